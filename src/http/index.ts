/**
 * The HTTP edge: CORS, health and metrics endpoints, the web pages, request ids, the graphql-sse
 * handler, and the byte budgets and caps guarding WebSocket and SSE connections.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { corsOptions } from "./cors.js";
export { eventStreams } from "./graphql-sse.js";
export { healthz } from "./healthz.js";
export { createMetrics, type Metrics } from "./metrics.js";
export { currentRequestId, requestIdOf, streamWithRequestId, withRequestId } from "./request-context.js";
export { guardEventStreams } from "./sse-guard.js";
export { webPages } from "./web.js";
export { guardWebSockets } from "./ws-guard.js";
