import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { PostgresLeaderLock, RedisLeaderLock } from "./leader-lock.js";
import { ReplicationService } from "./replication-service.js";

/**
 * The replication this process runs, from configuration: one slot per database (tests share a
 * cluster), the leader lock in Redis when there is one, else a PostgreSQL advisory lock.
 */
export function createReplication(config: Config & { DATABASE_URL: string }, clickhouse: ClickHouseClient, redis: Redis | undefined, logger: Logger) {
  const database = new URL(config.DATABASE_URL).pathname.slice(1).toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const slot = config.REPLICATION_SLOT ?? `sessions_clickhouse_${database}`.slice(0, 63);
  const lock = redis
    ? new RedisLeaderLock(redis, `sessions:replication:leader:${slot}`, config.REPLICATION_LEADER_RENEW_MS * 3)
    : new PostgresLeaderLock(config.DATABASE_URL, 727_002);
  return new ReplicationService(
    {
      databaseUrl: config.DATABASE_URL,
      slot,
      publication: "sessions_clickhouse",
      batchSize: config.REPLICATION_BATCH_SIZE,
      flushIntervalMs: config.REPLICATION_FLUSH_MS,
      maxBackoffMs: 10_000,
      leaderRenewMs: config.REPLICATION_LEADER_RENEW_MS,
    },
    clickhouse,
    lock,
    logger.child({ component: "replication" }),
  );
}
