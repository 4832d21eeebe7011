import { ApiError } from "../errors/index.js";
import type { Services } from "../services.js";

/**
 * Refuses a new waitpoint on a channel that already has `limits.pendingWaitpointsPerChannel`
 * pending (RATE_LIMITED): each one is a row and an entry in the pending index until it fires or
 * times out. A count rather than a lock, so concurrent creates may pass the cap by a few.
 */
export async function assertPendingWaitpointRoom(services: Pick<Services, "db" | "limits" | "refusals">, sessionId: string, io: string) {
  const cap = services.limits.pendingWaitpointsPerChannel;
  if (cap === null) return;
  const [row] = await services.db.sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM waitpoints
       WHERE session_id = $1 AND io = $2 AND status = 'PENDING' AND timeout_at > now() LIMIT $3) pending`,
    [sessionId, io, cap],
  );
  if ((row?.n ?? 0) < cap) return;
  const message = `at most ${cap} pending waitpoints per channel; complete or let some time out first`;
  services.refusals.record("pending_waitpoints", `session:${sessionId}`, message);
  throw new ApiError("RATE_LIMITED", message);
}
