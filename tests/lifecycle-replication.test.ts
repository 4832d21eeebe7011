import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backendEnv } from "./helpers/backends.js";
import { settleReplication } from "./helpers/replication.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

/**
 * Deleted sessions leave ClickHouse's lists too (issue #15): deleteSession and session retention
 * delete the PostgreSQL row, logical replication carries the DELETE (the whole old row: REPLICA
 * IDENTITY FULL) into sessions_v1 as a version with _is_deleted = 1, and FINAL leaves it out.
 */
describe("deletes replicated into ClickHouse", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ ...(await backendEnv("clickhouse")), RETENTION_SWEEP_INTERVAL: "1s", SESSION_RETENTION: "1s" });
  }, 60_000);
  afterAll(() => server?.close());

  const rows = async (ids: string[], final: boolean) =>
    (
      await server.services.clickhouse!.query({
        query: `SELECT session_id, _is_deleted FROM sessions_v1 ${final ? "FINAL" : ""} WHERE session_id IN {ids:Array(String)} ORDER BY session_id, _version`,
        query_params: { ids },
        format: "JSONEachRow",
      })
    ).json<{ session_id: string; _is_deleted: number }>();

  it("carries deleteSession and retention's deletes; lists and counts leave them out; the name's new session is listed", async () => {
    const { gql } = await server.newEnvironment();
    const create = async (externalId: string) =>
      (await gql(`mutation($e: String) { createSession(input: { type: "chat", externalId: $e }) { session { id } } }`, { e: externalId })).data!.createSession.session.id as string;
    const [gone, kept, retired] = [await create("gone"), await create("kept"), await create("retired")];
    await gql(`mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: 1 }]) { lastSeqNum } }`, { id: gone });
    await settleReplication(server.services);
    expect((await rows([gone, kept, retired], true)).map((r) => r.session_id).sort()).toEqual([gone, kept, retired].sort());

    expect((await gql(`mutation { deleteSession(id: "gone") { deleted } }`)).data!.deleteSession.deleted).toBe(true);
    await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id: retired });
    // Retention deletes the closed one a second after its close.
    await vi.waitFor(async () => expect(await server.services.prisma.session.findUnique({ where: { id: retired } })).toBeNull(), { timeout: 30_000, interval: 200 });
    await settleReplication(server.services);
    // The deletes arrived as versions of their own, and FINAL leaves those sessions out.
    for (const id of [gone, retired]) expect(await rows([id], false)).toContainEqual({ session_id: id, _is_deleted: 1 });
    expect(await rows([gone, kept, retired], true)).toEqual([{ session_id: kept, _is_deleted: 0 }]);
    const list = async () => (await gql(`{ sessions { totalCount edges { node { id externalId } } } }`)).data!.sessions;
    expect(await list()).toEqual({ totalCount: 1, edges: [{ node: { id: kept, externalId: "kept" } }] });

    // The name is free: its new session is replicated and listed, the old one stays out.
    const reborn = await create("gone");
    expect(reborn).not.toBe(gone);
    await settleReplication(server.services);
    expect(await list()).toEqual({ totalCount: 2, edges: [{ node: { id: reborn, externalId: "gone" } }, { node: { id: kept, externalId: "kept" } }] });
  }, 120_000);
});
