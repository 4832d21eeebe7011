/**
 * Housekeeping: periodic sweeps on one node at a time. Other domains import this folder only
 * through this file (.dependency-cruiser.cjs).
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Database } from "../db/index.js";
import type { Limits } from "../limits.js";
import { PostgresLeaderLock, RedisLeaderLock } from "../replication/index.js";
import { Housekeeping, type HousekeepingOptions, type SweepTask } from "./housekeeping.js";
import { environmentStorage, expiredAccessGrants, expiredAppendKeys, finishedWaitpoints } from "./tasks.js";

export { Housekeeping, type SweepTask } from "./housekeeping.js";

export interface HousekeepingExtras {
  /** Tasks of other domains that run first, in this order: retention (src/lifecycle). Default none. */
  tasks?: SweepTask[];
  /** Told each sweep's duration (the sweep-duration metric). Default: nothing. */
  onSwept?: HousekeepingOptions["onSwept"];
}

/**
 * The service's one sweeper, every `config.sweepIntervalMs` (RETENTION_SWEEP_INTERVAL): first the
 * tasks handed in (retention), then expired idempotency keys, old finished waitpoints, expired
 * access grants and each environment's stored bytes (for the per-environment storage cap). With
 * Redis a lease as long as the period (renewed while a sweep runs) lets one node sweep per period;
 * with PostgreSQL alone a session advisory lock lets one node sweep at a time; the embedded
 * default is one process.
 */
export function createHousekeeping(config: Config, db: Database, redis: Redis | undefined, logger: Logger, limits: Limits, extras: HousekeepingExtras = {}) {
  const intervalMs = config.sweepIntervalMs;
  // Nodes share a sweeper only when they share a database: PGlite is one process's own (no lock),
  // and the Redis lease is named after the database, so deployments (or test servers) sharing a
  // Redis but not a database never keep each other from sweeping.
  const lock = !config.DATABASE_URL
    ? undefined
    : redis
      ? new RedisLeaderLock(redis, `sessions:housekeeping:leader:${databaseName(config.DATABASE_URL)}`, intervalMs)
      : new PostgresLeaderLock(config.DATABASE_URL, 727_003);
  return new Housekeeping({
    sql: db.sql,
    logger,
    lock,
    releaseLock: !(redis && config.DATABASE_URL),
    intervalMs,
    onSwept: extras.onSwept,
    tasks: [
      ...(extras.tasks ?? []),
      expiredAppendKeys(limits.idempotencyKeyTtlMs),
      finishedWaitpoints(limits.finishedWaitpointRetentionMs),
      expiredAccessGrants(),
      // Only the per-environment storage cap reads the figure: no cap, no measuring.
      ...(limits.storagePerEnvironment === null ? [] : [environmentStorage()]),
    ],
  });
}

/** A database as its address names it (host, port and name; never its credentials). */
function databaseName(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return `${url.hostname}:${url.port || "5432"}${url.pathname}`;
}
