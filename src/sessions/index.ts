/**
 * Sessions: rows (SessionStore), lists and counts (the PostgreSQL and ClickHouse repositories),
 * input validation, names, ids, cursors and status.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { ClickHouseSessionsRepository } from "./clickhouse-sessions-repository.js";
export { encodeCursor } from "./cursor.js";
export { inDateRange, maxDate, minDate } from "./date-range.js";
export { isSessionId, isWaitpointId, newWaitpointId } from "./ids.js";
export { toListQuery, type ListArgs } from "./list-query.js";
export { nameProblem } from "./names.js";
export { PostgresSessionsRepository } from "./postgres-sessions-repository.js";
export { SessionStore, type Session } from "./session-store.js";
export type { SessionsRepository } from "./sessions-repository.js";
export { sessionStatus } from "./status.js";
export { closedReasonSchema, createSessionInputSchema, durationSchema, tagsSchema, updateSessionInputSchema, type CreateSessionInput } from "./validation.js";
