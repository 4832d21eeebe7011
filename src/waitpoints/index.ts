/**
 * Waitpoints: "wake me when the next record lands on a channel", their service, the pending index
 * (in process or Redis), and the cap on pending waitpoints per channel.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { MemoryPendingIndex } from "./pending-index.js";
export { assertPendingWaitpointRoom } from "./quota.js";
export { RedisPendingIndex } from "./redis-pending-index.js";
export { WaitpointService, waitpointStatus, type Waitpoint } from "./waitpoint-service.js";
