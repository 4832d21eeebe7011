import type { Services } from "../../src/services.js";
import { waitFor } from "./wait.js";

/**
 * Waits until ClickHouse holds exactly PostgreSQL's sessions (same ids, same updated_at and
 * closed_at), or fails after `timeoutMs` with both sides as last seen. A no-op where lists come
 * from PostgreSQL. Nothing announces rows reaching ClickHouse (the replicating process is often
 * another one), so the comparison is the condition waited on.
 */
export async function settleReplication(services: Pick<Services, "prisma" | "clickhouse">, timeoutMs = 15_000): Promise<void> {
  const clickhouse = services.clickhouse;
  if (!clickhouse) return;
  await waitFor(
    async () => {
      const pg = await services.prisma.session.findMany({ select: { id: true, updatedAt: true, closedAt: true }, orderBy: { id: "asc" } });
      const expected = pg.map((s) => `${s.id}|${s.updatedAt.getTime()}|${s.closedAt?.getTime() ?? ""}`).join(",");
      const rows = await (
        await clickhouse.query({
          query: "SELECT session_id, toUnixTimestamp64Milli(updated_at) AS u, toUnixTimestamp64Milli(closed_at) AS c FROM sessions_v1 FINAL ORDER BY session_id",
          format: "JSONEachRow",
        })
      ).json<{ session_id: string; u: string | number; c: string | number | null }>();
      const seen = rows.map((r) => `${r.session_id}|${Number(r.u)}|${r.c === null ? "" : Number(r.c)}`).join(",");
      if (seen !== expected) throw new Error(`replication did not converge:\n pg: ${expected.slice(0, 300)}\n ch: ${seen.slice(0, 300)}`);
    },
    { timeout: timeoutMs },
  );
}
