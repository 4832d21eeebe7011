/**
 * The contract's errors: codes and constructors (ApiError), and how errors are masked and shaped
 * for every transport (HTTP, graphql-ws, graphql-sse).
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { ApiError, badInput, forbidden, notFound, recordsTrimmed, seqNumMismatch, sessionClosed, trimmedHead, unauthenticated, unavailable, type ErrorCode } from "./api-error.js";
export { errorShaping, streamErrorsAsResults, subscriptionErrorsWithData, type Audience, type ErrorShaping } from "./shaping.js";
