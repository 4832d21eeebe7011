/**
 * The contract's errors: codes and constructors (ApiError), and how errors are masked and shaped
 * for every transport (HTTP, graphql-ws, graphql-sse).
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { ApiError, badInput, type ErrorCode, forbidden, notFound, recordsTrimmed, seqNumMismatch, sessionClosed, trimmedHead, unauthenticated, unavailable } from "./api-error.js";
export { type Audience, errorShaping, type ErrorShaping, streamErrorsAsResults, subscriptionErrorsWithData } from "./shaping.js";
