/**
 * The events a waitpoint callback announces, and their JSON body. Pure: built from the waitpoint's
 * row, which no longer changes once the waitpoint has ended, so every retry of an event sends the
 * same body under the same `webhook-id`.
 */
export const callbackEventTypes = { COMPLETED: "waitpoint.completed", TIMED_OUT: "waitpoint.timed_out" } as const;
export type CallbackEventType = (typeof callbackEventTypes)[keyof typeof callbackEventTypes];

/** The ended waitpoint, as its row holds it (bigint columns may come as string or bigint). */
export interface EndedWaitpoint {
  id: string;
  sessionId: string;
  io: string;
  afterSeqNum: number | string | bigint;
  status: string;
  tags: string[];
  recordSeqNum: number | string | bigint | null;
  recordTimestamp: Date | null;
  recordData: unknown;
  createdAt: Date;
  completedAt: Date | null;
  timeoutAt: Date;
}

/** The waitpoint as JSON: the fields of the GraphQL `Waitpoint`, with its session's id. */
export function waitpointJson(w: EndedWaitpoint) {
  return {
    id: w.id,
    sessionId: w.sessionId,
    io: w.io,
    afterSeqNum: Number(w.afterSeqNum),
    status: w.status,
    record:
      w.recordSeqNum === null
        ? null
        : { seqNum: Number(w.recordSeqNum), timestamp: (w.recordTimestamp ?? w.completedAt ?? w.createdAt).toISOString(), data: w.recordData ?? null },
    tags: w.tags,
    createdAt: w.createdAt.toISOString(),
    completedAt: w.completedAt?.toISOString() ?? null,
    timeoutAt: w.timeoutAt.toISOString(),
  };
}

/** `{"type": ..., "timestamp": when the waitpoint ended, "data": the waitpoint}`, as sent. */
export function callbackBody(type: string, eventAt: Date, waitpoint: EndedWaitpoint): string {
  return JSON.stringify({ type, timestamp: eventAt.toISOString(), data: waitpointJson(waitpoint) });
}
