/**
 * Token buckets for rate limits, in process or in Redis (the GraphQL plugin applying them lives in
 * graphql/plugins/rate-limit.ts).
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { MemoryBuckets, RedisBuckets, type Buckets } from "./buckets.js";
