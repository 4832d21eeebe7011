import type { ClickHouseClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Authenticator, SigningKeys } from "./auth/index.js";
import { LiveAccess, loadMasterKey, openAuthServices, type AuthServices } from "./auth/index.js";
import { Callbacks } from "./callbacks/index.js";
import type { StreamStore } from "./channels/index.js";
import { ChannelAccessGrants, ChannelWriter, checkS2Basin, DatabaseAppendGuard, LocalStreamStore, S2StreamStore, storageCaps, type Follow } from "./channels/index.js";
import type { Config } from "./config.js";
import type { Database } from "./db/index.js";
import { migrateClickHouse, openClickHouse, openDatabase } from "./db/index.js";
import type { PrismaClient } from "./generated/prisma/client.js";
import { createHousekeeping, type Housekeeping } from "./housekeeping/index.js";
import { createMetrics, type Metrics } from "./http/index.js";
import { createLifecycle, type Lifecycle } from "./lifecycle/index.js";
import { limits, resolveLimits, type Limits } from "./limits.js";
import { ChannelFanout, LocalSignals, RedisSignals, Watchers, type Signals } from "./live/index.js";
import { Refusals } from "./refusals.js";
import type { ReplicationService } from "./replication/index.js";
import { createReplication } from "./replication/index.js";
import type { SessionsRepository } from "./sessions/index.js";
import { ClickHouseSessionsRepository, PostgresSessionsRepository, SessionStore } from "./sessions/index.js";
import { MemoryPendingIndex, RedisPendingIndex, WaitpointService } from "./waitpoints/index.js";

/** Every stateful part of the service, chosen by configuration: production backends or embedded defaults. */
export interface Services {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  db: Database;
  prisma: PrismaClient;
  redis?: Redis;
  clickhouse?: ClickHouseClient;
  replication?: ReplicationService;
  authenticator: Authenticator;
  /** Per-environment token signing keys, sealed with the master key. */
  signingKeys: SigningKeys;
  /** Revokes an environment's public access tokens issued until now, on every node. */
  revokeTokens: AuthServices["revokeTokens"];
  sessions: SessionStore;
  sessionsRepository: SessionsRepository;
  store: StreamStore;
  /** The store's own live read, when clients may write to it directly (S2); undefined for the local store. */
  follow: Follow | undefined;
  writer: ChannelWriter;
  signals: Signals;
  fanout: ChannelFanout;
  /** Ticks per session id on every update or close. */
  sessionWatch: Watchers;
  /** Ends live subscriptions once their caller's rights end. */
  live: LiveAccess;
  /** Direct channel access handed out, revoked when the rights it was given under end. */
  accessGrants: ChannelAccessGrants;
  waitpoints: WaitpointService;
  /** Waitpoint callbacks: the URL policy, the webhook signing secrets, the deliverer. */
  callbacks: Callbacks;
  /** The limits in force: src/limits.ts's defaults, overridden by configuration. */
  limits: Limits;
  /** Where every refusal by a limit is recorded (metric and throttled warn line). */
  refusals: Refusals;
  /** Trimming channels and deleting sessions (the API's and retention's). */
  lifecycle: Lifecycle;
  /** The one sweeper: retention, expired idempotency keys, old finished waitpoints, access grants, storage measurement. */
  housekeeping: Housekeeping;
  close(): Promise<void>;
}

export async function createServices(config: Config, logger: Logger): Promise<Services> {
  // A wrong basin stops the start here, in one line, before anything is opened.
  if (config.S2_ACCESS_TOKEN && config.S2_BASIN) await checkS2Basin({ accessToken: config.S2_ACCESS_TOKEN, basin: config.S2_BASIN, endpoints: config.s2Endpoints });
  const db = await openDatabase(config);
  const prisma = db.prisma;
  const logError = (what: string) => (error: unknown) => logger.error({ err: error }, what);

  let redis: Redis | undefined;
  let signals: Signals = new LocalSignals();
  if (config.REDIS_URL) {
    redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
    redis.on("error", logError("redis"));
    signals = await RedisSignals.connect(redis, logError("redis signal"));
  }
  const auth = await openAuthServices(config, db, signals, logger);

  let replication: ReplicationService | undefined;
  const metrics = createMetrics(() => replication?.metrics);
  const resolvedLimits = resolveLimits(config);
  const refusals = new Refusals({ counter: metrics.limitRefusals, logger });
  const caps = storageCaps(resolvedLimits);
  const s2 =
    config.S2_ACCESS_TOKEN && config.S2_BASIN
      ? new S2StreamStore({
          accessToken: config.S2_ACCESS_TOKEN,
          basin: config.S2_BASIN,
          endpoints: config.s2Endpoints,
          sql: db.sql,
          guard: new DatabaseAppendGuard(prisma, { caps }),
        })
      : undefined;
  const store: StreamStore = s2 ?? new LocalStreamStore(db.sql, { caps });
  // Clients with a write grant append to S2 directly: followers follow S2's own live read too.
  const follow: Follow | undefined = s2 && ((channel, fromSeqNum, signal) => s2.follow(channel, fromSeqNum, signal));
  const sessions = new SessionStore(prisma);
  const writer = new ChannelWriter(store, { refusals });
  const fanout = new ChannelFanout(
    store,
    signals,
    {
      subscriberBuffer: limits.subscriberBufferRecords,
      subscriberBufferBytes: resolvedLimits.subscriberBufferBytes,
      readBatch: limits.fanoutReadBatch,
      follow,
      sessionClosed: async (id) => (await sessions.byId(id))?.closedAt != null,
    },
    logError("channel fan-out"),
  );
  writer.onAppend((channel, ack, data) => {
    // Straight to this process's subscribers first; the signal then tells the other processes.
    fanout.appended(channel, ack, data);
    signals.publish({ kind: "append", ...channel, tail: ack.tailSeqNum });
    metrics.recordsAppended.inc({ io: channel.io }, ack.lastSeqNum - ack.firstSeqNum + 1);
  });
  const waitpoints = new WaitpointService(
    prisma,
    store,
    redis ? new RedisPendingIndex(redis) : new MemoryPendingIndex(),
    signals,
    logError("waitpoints"),
    // Records written straight to S2 wake waitpoints too.
    follow && fanout,
  );
  writer.onAppend((channel, ack) => void waitpoints.onAppend(channel, ack).catch(logError("waitpoint wake-up")));
  await waitpoints.start();
  // The master key openAuthServices loaded (or made) seals the webhook secrets too.
  const callbacks = new Callbacks(config, resolvedLimits, { prisma, sql: db.sql, signals, sealer: loadMasterKey(config).masterKey, logger });
  callbacks.start();
  const sessionWatch = new Watchers(signals);
  const accessGrants = new ChannelAccessGrants(prisma, store, logError("channel access revocation"));
  const lifecycle = createLifecycle({
    sql: db.sql,
    store,
    signals,
    waitpoints,
    accessGrants,
    metrics: {
      recordsTrimmed: (n, cause) => metrics.recordsTrimmed.inc({ cause }, n),
      sessionDeleted: (cause) => metrics.sessionsDeleted.inc({ cause }),
    },
    onError: logError("data lifecycle"),
    logger,
    sessionRetentionMs: resolvedLimits.sessionRetentionMs,
    recordRetentionMs: resolvedLimits.recordRetentionMs,
  });
  const housekeeping = createHousekeeping(config, db, redis, logger, resolvedLimits, {
    tasks: lifecycle.tasks,
    onSwept: (ms) => metrics.sweepDuration.observe(ms / 1000),
  });
  housekeeping.start();
  const live = new LiveAccess(signals, (id) => sessions.byId(id), logError("live access check"));

  let clickhouse: ClickHouseClient | undefined;
  if (config.CLICKHOUSE_URL && config.DATABASE_URL) {
    await migrateClickHouse(config.CLICKHOUSE_URL);
    clickhouse = openClickHouse(config.CLICKHOUSE_URL).client;
    if (config.replicationEnabled) {
      replication = createReplication({ ...config, DATABASE_URL: config.DATABASE_URL }, clickhouse, redis, logger);
      replication.start();
    }
  }

  return {
    config,
    logger,
    metrics,
    db,
    prisma,
    redis,
    clickhouse,
    replication,
    authenticator: auth.authenticator,
    signingKeys: auth.signingKeys,
    revokeTokens: auth.revokeTokens,
    sessions,
    sessionsRepository: clickhouse ? new ClickHouseSessionsRepository(clickhouse, sessions) : new PostgresSessionsRepository(prisma),
    store,
    follow,
    writer,
    signals,
    fanout,
    sessionWatch,
    live,
    accessGrants,
    lifecycle,
    waitpoints,
    callbacks,
    limits: resolvedLimits,
    refusals,
    housekeeping,
    async close() {
      // Replication first: it flushes and acknowledges what it holds before the connections go.
      await replication?.stop();
      await clickhouse?.close();
      // Attempts in flight end and their rows are due again at once, before the database goes.
      await callbacks.stop();
      await waitpoints.close();
      fanout.close();
      sessionWatch.close();
      live.close();
      await auth.close();
      await signals.close();
      redis?.disconnect();
      await housekeeping.stop();
      await db.close();
    },
  };
}
