import { GraphQLError } from "graphql";

/** The error codes of the contract; every error a client sees carries one of them. */
export const errorCodes = [
  "BAD_USER_INPUT",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "SESSION_CLOSED",
  "SEQ_NUM_MISMATCH",
  "PAYLOAD_TOO_LARGE",
  "RATE_LIMITED",
  "RECORDS_TRIMMED",
  "INTERNAL_SERVER_ERROR",
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export class ApiError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extra } });
  }
}

export const badInput = (message: string) => new ApiError("BAD_USER_INPUT", message);
export const notFound = (what: string) => new ApiError("NOT_FOUND", `${what} not found`);
export const forbidden = (message = "not allowed by this token's scopes") => new ApiError("FORBIDDEN", message);
export const unauthenticated = (message = "a secret key or public access token is required") =>
  new ApiError("UNAUTHENTICATED", message);
/** Closed and expired sessions alike take no writes. */
export const sessionClosed = (id: string) => new ApiError("SESSION_CLOSED", `session ${id} is closed or expired: it takes no writes`);

/**
 * A read from below a channel's head: those records were trimmed (trimSessionChannel, or record
 * retention). Never a silent skip: the client learns where the channel now starts and decides
 * whether to continue from there.
 */
/** An append whose matchSeqNum is not the channel's tail; carries the tail, so the client can retry from it. */
export const seqNumMismatch = (expected: number, tail: number) =>
  new ApiError("SEQ_NUM_MISMATCH", `matchSeqNum ${expected} is not the channel's tail ${tail}`, { tailSeqNum: tail });

export const recordsTrimmed = (headSeqNum: number) =>
  new ApiError("RECORDS_TRIMMED", `records before seqNum ${headSeqNum} were trimmed: the channel now starts at ${headSeqNum}`, { headSeqNum });

/** The head a RECORDS_TRIMMED error carries; undefined for any other error. */
export function trimmedHead(error: unknown): number | undefined {
  if (!(error instanceof ApiError) || error.extensions.code !== "RECORDS_TRIMMED") return undefined;
  const head = error.extensions.headSeqNum;
  return typeof head === "number" ? head : undefined;
}

/**
 * A field the contract declares whose work is still open: a clear refusal, never a made-up
 * result. `issue` names the tracker issue that will replace it.
 */
export const unavailable = (feature: string, issue: number) =>
  new ApiError("BAD_USER_INPUT", `${feature} is not available on this server yet (issue #${issue})`, { unavailable: true });
