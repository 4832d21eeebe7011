/**
 * The GraphQL API: the Pothos schema (one file per type, auth rules in the builder), resolvers that
 * call services, the request context, and yoga plugins, one per cross-cutting behaviour.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { createContext, type Context } from "./context.js";
export { answerLimits } from "./plugins/answer-budget.js";
export { refuseBody } from "./plugins/body-limit.js";
export { deliveryLimits } from "./plugins/delivery-limits.js";
export { inputGuard } from "./plugins/input-guard.js";
export { introspectionNeedsAuth } from "./plugins/introspection.js";
export { metricsPlugin } from "./plugins/metrics.js";
export { rateLimit } from "./plugins/rate-limit.js";
export { sharedSubscriptionResults } from "./plugins/shared-results.js";
export { schema } from "./schema/index.js";
