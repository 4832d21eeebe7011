/**
 * Waitpoint callbacks: a signed POST (Standard Webhooks) when a waitpoint with a callbackUrl
 * completes or times out. The URL policy (SSRF), the per-environment signing secrets, the event
 * body, the backoff schedule, and the deliverer that works through the outbox rows the waitpoint
 * service writes (`waitpoint_callbacks`).
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { blockedAddress } from "./addresses.js";
export { nextRetry, type RetryDecision, type RetryPolicy } from "./backoff.js";
export { Callbacks, type CallbacksDeps } from "./callbacks.js";
export { CallbackDeliverer, type DelivererOptions } from "./deliverer.js";
export { callbackBody, callbackEventTypes, waitpointJson, type CallbackEventType, type EndedWaitpoint } from "./events.js";
export { WebhookSecrets, signedHeaders, type Sealer } from "./signing.js";
export { CallbackUrlRefused, UrlPolicy, systemResolve, type Resolve, type ResolvedAddress, type UrlPolicyOptions } from "./url-policy.js";
