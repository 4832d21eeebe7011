import type { SessionIO, StreamStore } from "../channels/index.js";
import type { SweepTask } from "../housekeeping/index.js";
import type { ChannelTrimmer } from "./channel-trimmer.js";
import type { SessionDeleter } from "./session-deleter.js";

/**
 * Deleted sessions whose records are still stored: a purge that a crash or a failing store cut
 * short. Each batch is `limit` of them, oldest first; a purge that fails again waits for the next sweep.
 */
export const pendingPurges = (deleter: SessionDeleter): SweepTask => ({
  name: "session_purges",
  sweepBatch: (_sql, _now, limit) => deleter.purgePending(limit),
});

/**
 * SESSION_RETENTION: sessions closed longer ago than `retentionMs`, and sessions expired that long
 * ago without having been closed, are deleted with their records, as deleteSession would (found by
 * the partial indexes on closed_at and expires_at). Each one is its own short statement; the
 * condition is checked again by the delete itself.
 */
export const sessionRetention = (deleter: SessionDeleter, retentionMs: number): SweepTask => ({
  name: "session_retention",
  async sweepBatch(sql, now, limit) {
    const finishedBefore = new Date(now.getTime() - retentionMs);
    const due = await sql.query<{ id: string }>(
      `SELECT id FROM sessions WHERE closed_at < $1
       UNION ALL
       SELECT id FROM sessions WHERE closed_at IS NULL AND expires_at < $1
       LIMIT $2`,
      [finishedBefore, limit],
    );
    let deleted = 0;
    for (const { id } of due) if (await deleter.delete(id, "retention", { finishedBefore })) deleted++;
    return deleted;
  },
});

interface RetainedChannel {
  id: string;
  retention_ms: string | number;
  io: SessionIO | null;
  head_seq_num: string | number | null;
}

/**
 * Record retention: each session's `recordRetention`, else `defaultMs` (RECORD_RETENTION; null:
 * only sessions with their own). A batch is `limit` sessions in id order, with their channels: each
 * channel is trimmed up to its first record younger than the retention (the store finds it; the
 * records go in the store's batches). The cursor carries on from batch to batch and sweep to
 * sweep, and a pass that reaches the end starts over, so a sweep cut short goes on where it stopped.
 * Answers sessions visited; what was trimmed goes to the metrics.
 */
export function recordRetention(store: Pick<StreamStore, "seqNumAt">, trimmer: ChannelTrimmer, defaultMs: number | null): SweepTask {
  let after = "";
  // Without a default only sessions with their own retention count, found by the partial index.
  const own = defaultMs === null ? "AND record_retention_ms IS NOT NULL" : "";
  return {
    name: "record_retention",
    measures: true,
    async sweepBatch(sql, now, limit) {
      const rows = await sql.query<RetainedChannel>(
        `WITH s AS (
           SELECT id, COALESCE(record_retention_ms, $2::bigint) AS retention_ms FROM sessions
           WHERE id > $1 ${own} ORDER BY id LIMIT $3)
         SELECT s.id, s.retention_ms, c.io, c.head_seq_num FROM s LEFT JOIN channels c ON c.session_id = s.id ORDER BY s.id`,
        [after, defaultMs, limit],
      );
      const sessions = new Set(rows.map((r) => r.id));
      for (const row of rows) {
        if (row.io === null) continue;
        const channel = { sessionId: row.id, io: row.io };
        const keepFrom = await store.seqNumAt(channel, new Date(now.getTime() - Number(row.retention_ms)));
        if (keepFrom > Number(row.head_seq_num)) await trimmer.trim(channel, keepFrom, "retention");
      }
      after = sessions.size < limit ? "" : (rows.at(-1)?.id ?? "");
      return sessions.size;
    },
  };
}
