/**
 * Logical replication of the sessions table from PostgreSQL into ClickHouse, and the leader lock
 * that lets one node at a time run it (reused by housekeeping).
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { createReplication } from "./create-replication.js";
export { PostgresLeaderLock, RedisLeaderLock, type LeaderLock } from "./leader-lock.js";
export { ReplicationMetrics } from "./replication-metrics.js";
export { ReplicationService } from "./replication-service.js";
