import type { Logger } from "pino";
import type { StreamStore } from "../channels/index.js";
import type { Sql } from "../db/index.js";
import type { Signals } from "../live/index.js";
import { type LifecycleCause, type LifecycleMetrics, noMetrics } from "./lifecycle-metrics.js";

export interface SessionDeleterOptions {
  sql: Sql;
  store: Pick<StreamStore, "deleteChannels" | "revokeAccess">;
  /** Tells live subscriptions on every node that the session is gone (they end with NOT_FOUND). */
  signals: Pick<Signals, "publish">;
  /** Drops the deleted session's pending waitpoints from the pending index. */
  waitpoints: { sessionDeleted(sessionId: string): Promise<void> };
  /** Revokes direct channel access handed out for the session (S2 stream tokens) at the store. */
  accessGrants: { revoke(where: { sessionId: string }): Promise<number> };
  /** Counts deletions. Default: not counted. */
  metrics?: LifecycleMetrics;
  /** Where each retention deletion is logged (the API's are in the audit trail). Default: not logged. */
  logger?: Pick<Logger, "info">;
  onError: (error: unknown) => void;
}

/** Only sessions that are still due: a retention sweep passes its cutoff, and a session reopened since is kept. */
export interface DeleteCondition {
  /** Closed before this, or expired before this without having been closed. */
  finishedBefore: Date;
}

/**
 * Deletes sessions: for deleteSession (idempotent) and for session retention. The session row goes
 * in one statement, which waits for appends in flight (they hold the row FOR SHARE) and cascades to
 * its channel rows, waitpoints and access grants, and which records the session in session_purges.
 * From then on nothing finds the session: appends answer NOT_FOUND, its externalId is free, and the
 * delete reaches ClickHouse through replication like any change of the table. The records and
 * idempotency keys are removed next, outside any lock, in the store's own batches; a purge a crash
 * interrupts is finished by the sweeper (`purgePending`).
 */
export class SessionDeleter {
  private metrics: LifecycleMetrics;

  constructor(private options: SessionDeleterOptions) {
    this.metrics = options.metrics ?? noMetrics;
  }

  /** True when this call deleted the session; false when it was already gone (or not due). */
  async delete(sessionId: string, cause: LifecycleCause, condition?: DeleteCondition): Promise<boolean> {
    const { sql, signals } = this.options;
    // First, while the grants are still recorded (they go with the row): direct access ends at the store.
    await this.options.accessGrants.revoke({ sessionId });
    const due = condition ? `AND (closed_at < $2 OR (closed_at IS NULL AND expires_at < $2))` : "";
    // The grants still recorded as the row goes (they go with it): any handed out since the
    // revocation above, by an initializeSessionChannel that ran meanwhile, are revoked below. One
    // asked for after this statement finds no session (or fails on its row's foreign key).
    const [row] = await sql.query<{ n: number; grants: string[] | null }>(
      `WITH gone AS (DELETE FROM sessions WHERE id = $1 ${due} RETURNING id, environment_id),
       purge AS (INSERT INTO session_purges (session_id, environment_id) SELECT id, environment_id FROM gone ON CONFLICT DO NOTHING)
       SELECT count(*)::int AS n,
         (SELECT array_agg(g.id) FROM channel_access_grants g WHERE g.session_id = $1 AND g.expires_at > now() AND EXISTS (SELECT 1 FROM gone)) AS grants
       FROM gone`,
      condition ? [sessionId, condition.finishedBefore] : [sessionId],
    );
    if (!row?.n) return false;
    if (row.grants?.length) await this.options.store.revokeAccess(row.grants).catch(this.options.onError);
    this.metrics.sessionDeleted(cause);
    if (cause === "retention") this.options.logger?.info({ sessionId, cause }, "session deleted");
    // A change signal: LiveAccess re-reads the session on every node, finds it gone, and ends its
    // subscriptions (records, changes, waitpoints) with NOT_FOUND. Not a close: a close would let
    // record subscriptions complete as if the session had simply ended.
    signals.publish({ kind: "session", sessionId, closed: false });
    await this.options.waitpoints.sessionDeleted(sessionId).catch(this.options.onError);
    await this.purge(sessionId);
    return true;
  }

  /**
   * Removes a deleted session's records and idempotency keys, then its purge row. Idempotent:
   * run again after a failure, it removes what is left. False when it failed (logged; retried by
   * the sweeper).
   */
  async purge(sessionId: string): Promise<boolean> {
    const { sql, store } = this.options;
    try {
      await store.deleteChannels(sessionId);
      await sql.query(`DELETE FROM append_keys WHERE session_id = $1`, [sessionId]);
      await sql.query(`DELETE FROM session_purges WHERE session_id = $1`, [sessionId]);
      return true;
    } catch (error) {
      this.options.onError(error);
      return false;
    }
  }

  /** Purges that did not finish (a crash, a store that failed), up to `limit` of them; answers how many finished now. */
  async purgePending(limit: number): Promise<number> {
    const rows = await this.options.sql.query<{ session_id: string }>(`SELECT session_id FROM session_purges ORDER BY deleted_at LIMIT $1`, [limit]);
    let done = 0;
    for (const { session_id } of rows) if (await this.purge(session_id)) done++;
    return done;
  }
}
