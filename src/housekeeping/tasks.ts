import type { Sql } from "../db/index.js";
import type { SweepTask } from "./housekeeping.js";

const deleted = async (sql: Sql, statement: string, params: unknown[]) =>
  (await sql.query<{ n: number }>(`WITH gone AS (${statement} RETURNING 1) SELECT count(*)::int AS n FROM gone`, params))[0]?.n ?? 0;

/** Idempotency keys of appends, once their window (`limits.idempotencyKeyTtlMs`) has passed: a retry that late is a new append anyway. */
export const expiredAppendKeys = (ttlMs: number): SweepTask => ({
  name: "append_keys",
  sweepBatch: (sql, now, limit) =>
    deleted(
      sql,
      `DELETE FROM append_keys WHERE (session_id, io, key) IN (
         SELECT session_id, io, key FROM append_keys WHERE created_at < $1 LIMIT $2)`,
      [new Date(now.getTime() - ttlMs), limit],
    ),
});

/**
 * Waitpoints finished (completed, or timed out) longer ago than `retentionMs`. A pending row
 * past its timeout is timed out whether or not the waitpoint service has marked it yet.
 */
export const finishedWaitpoints = (retentionMs: number): SweepTask => ({
  name: "waitpoints",
  sweepBatch: (sql, now, limit) =>
    deleted(
      sql,
      `DELETE FROM waitpoints WHERE id IN (
         SELECT id FROM waitpoints WHERE COALESCE(completed_at, timeout_at) < $1 LIMIT $2)`,
      [new Date(now.getTime() - retentionMs), limit],
    ),
});

/** Direct channel access grants past their expiry: the store's token is dead, nothing is left to revoke. */
export const expiredAccessGrants = (): SweepTask => ({
  name: "channel_access_grants",
  sweepBatch: (sql, now, limit) =>
    deleted(sql, `DELETE FROM channel_access_grants WHERE id IN (SELECT id FROM channel_access_grants WHERE expires_at <= $1 LIMIT $2)`, [now, limit]),
});

/**
 * Measures each environment's stored record bytes (the sum of its channels' `stored_bytes`) into
 * `environment_usage`, the figure appends check the per-environment storage cap against
 * (src/channels/storage-caps.ts). Written here, one node at a time, rather than by every append,
 * so no row serializes an environment's appends; the price is a soft cap that lags by a sweep.
 * A batch is `limit` environments in id order, each summed over its sessions' channels (index
 * scans); the cursor carries the next batch on, and a pass that reaches the end starts over, so
 * a sweep cut short by `maxBatches` goes on from where it stopped.
 */
export function environmentStorage(): SweepTask {
  let after = "";
  return {
    name: "environment_storage",
    measures: true,
    async sweepBatch(sql, now, limit) {
      const [row] = await sql.query<{ n: number; last: string | null }>(
        `WITH envs AS (SELECT id FROM environments WHERE id > $1 ORDER BY id LIMIT $2),
         totals AS (
           SELECT envs.id, COALESCE((SELECT sum(c.stored_bytes) FROM sessions s JOIN channels c ON c.session_id = s.id
                                     WHERE s.environment_id = envs.id), 0) AS bytes
           FROM envs
         ), saved AS (
           INSERT INTO environment_usage (environment_id, stored_bytes, measured_at)
           SELECT id, bytes, $3 FROM totals
           ON CONFLICT (environment_id) DO UPDATE SET stored_bytes = EXCLUDED.stored_bytes, measured_at = EXCLUDED.measured_at
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM saved)::int AS n, (SELECT max(id) FROM envs) AS last`,
        [after, limit, now],
      );
      const n = row?.n ?? 0;
      after = n < limit ? "" : (row?.last ?? "");
      return n;
    },
  };
}
