import type { Sql } from "../db/database.js";
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
