import { ApiError } from "../errors/index.js";
import type { Limits } from "../limits.js";

/**
 * Caps on stored records (issue #12 item 5), in bytes of record JSON as the writer encoded it (the
 * measure of the "a record, as JSON" limit). `null`: no cap.
 *
 * - Per session: each channel row keeps a running `stored_bytes`, raised by the append that already
 *   locks and updates that row, and an append is refused unless the session's two channels plus the
 *   append fit. Exact for one channel (its appends are serialized by the row lock); the other
 *   channel's figure is read without a lock, so appends racing on both channels at once can each
 *   pass on the other's earlier figure: a session never holds more than twice the cap, each channel
 *   never more than the cap.
 * - Per environment: a soft cap. `environment_usage.stored_bytes` is the sum of the environment's
 *   channels as the housekeeping sweep last measured it (one node at a time, every
 *   `RETENTION_SWEEP_INTERVAL`); appends only read it, so no row serializes an environment's appends,
 *   and what is appended between two sweeps is not seen until the next one.
 */
export interface StorageCaps {
  perSession: number | null;
  perEnvironment: number | null;
}

/** The caps in force, from the limits table (defaults, or as configured). */
export const storageCaps = (limits: Pick<Limits, "storagePerSession" | "storagePerEnvironment">): StorageCaps => ({
  perSession: limits.storagePerSession,
  perEnvironment: limits.storagePerEnvironment,
});

/** Which cap refused an append. */
export type StorageScope = "session" | "environment";

/**
 * An append refused by a storage cap: PAYLOAD_TOO_LARGE, since waiting makes no room (only trimming
 * or deleting records will), so clients must not retry it as they would RATE_LIMITED. Nothing of
 * the append was written.
 */
export class StorageFullError extends ApiError {
  constructor(
    readonly scope: StorageScope,
    readonly sessionId: string,
    readonly environmentId: string,
    readonly cap: number,
    readonly bytes: number,
  ) {
    super(
      "PAYLOAD_TOO_LARGE",
      scope === "session"
        ? `session ${sessionId} is full: a session's records hold at most ${cap} bytes of JSON, and this append of ${bytes} bytes does not fit`
        : `this environment is full: its records hold at most ${cap} bytes of JSON; nothing more can be appended until records are deleted`,
      { storage: scope },
    );
  }
}

/**
 * SQL: the bytes stored in the session's other channel than `io` (0 when it has none), for the
 * per-session check. Read without a lock; see StorageCaps.
 */
export const siblingBytes = (sessionId: string, io: string) =>
  `COALESCE((SELECT sum(o.stored_bytes) FROM channels o WHERE o.session_id = ${sessionId} AND o.io <> ${io}), 0)`;
