import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Housekeeping } from "../src/housekeeping/index.js";
import { expiredAppendKeys, finishedWaitpoints } from "../src/housekeeping/tasks.js";
import { limits } from "../src/limits.js";
import { RedisLeaderLock } from "../src/replication/leader-lock.js";
import { redisUrl } from "./helpers/backends.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The injected "now" of every sweep: rows are dated relative to it, nothing waits. */
const now = new Date("2030-06-01T00:00:00.000Z");
const ago = (ms: number) => new Date(now.getTime() - ms);
const logger = pino({ level: "silent" });

describe("housekeeping", () => {
  let server: TestServer;
  let sessionId: string;
  const sql = () => server.services.db.sql;
  beforeAll(async () => {
    server = await startServer("pglite");
    const { gql } = await server.newEnvironment();
    sessionId = (await gql(`mutation { createSession(input: { type: "chat" }) { session { id } } }`)).data!.createSession.session.id;
  });
  afterAll(() => server?.close());

  const housekeeping = (batchSize: number) =>
    new Housekeeping({
      sql: sql(),
      logger,
      batchSize,
      now: () => now,
      tasks: [expiredAppendKeys(limits.idempotencyKeyTtlMs), finishedWaitpoints(limits.finishedWaitpointRetentionMs)],
    });

  async function appendKey(key: string, createdAt: Date) {
    await sql().query(`INSERT INTO append_keys (session_id, io, key, first_seq_num, last_seq_num, created_at) VALUES ($1, 'IN', $2, 0, 0, $3)`, [sessionId, key, createdAt]);
  }
  async function waitpoint(id: string, status: string, timeoutAt: Date, completedAt: Date | null) {
    const env = (await sql().query<{ environment_id: string }>(`SELECT environment_id FROM sessions WHERE id = $1`, [sessionId]))[0]!.environment_id;
    await sql().query(
      `INSERT INTO waitpoints (id, environment_id, session_id, io, after_seq_num, status, tags, created_at, completed_at, timeout_at)
       VALUES ($1, $2, $3, 'IN', 0, $4, '{}', $5, $6, $7)`,
      [id, env, sessionId, status, ago(30 * DAY), completedAt, timeoutAt],
    );
  }
  const left = async (table: string, column: string) =>
    (await sql().query<{ v: string }>(`SELECT ${column} AS v FROM ${table} WHERE session_id = $1 ORDER BY 1`, [sessionId])).map((r) => r.v);

  it("deletes expired idempotency keys and old finished waitpoints, in batches, and keeps the rest", async () => {
    // Seven expired keys with a batch of two: four statements, none holding many rows.
    for (let i = 0; i < 7; i++) await appendKey(`old-${i}`, ago(limits.idempotencyKeyTtlMs + HOUR + i));
    await appendKey("fresh", ago(limits.idempotencyKeyTtlMs - HOUR));
    const retention = limits.finishedWaitpointRetentionMs;
    await waitpoint("waitpoint_completed_old", "COMPLETED", ago(retention - DAY), ago(retention + HOUR));
    await waitpoint("waitpoint_completed_recent", "COMPLETED", ago(retention + DAY), ago(retention - HOUR));
    await waitpoint("waitpoint_timed_out_old", "TIMED_OUT", ago(retention + HOUR), null);
    // Never marked by the waitpoint service, but timed out long ago: finished too.
    await waitpoint("waitpoint_unmarked_old", "PENDING", ago(retention + HOUR), null);
    await waitpoint("waitpoint_pending", "PENDING", new Date(now.getTime() + HOUR), null);

    expect(await housekeeping(2).sweep()).toEqual({ append_keys: 7, waitpoints: 3 });
    expect(await left("append_keys", "key")).toEqual(["fresh"]);
    expect(await left("waitpoints", "id")).toEqual(["waitpoint_completed_recent", "waitpoint_pending"]);
    // Nothing more is due.
    expect(await housekeeping(2).sweep()).toEqual({ append_keys: 0, waitpoints: 0 });
  });

  it("one sweep is bounded: what is left waits for the next", async () => {
    for (let i = 0; i < 5; i++) await appendKey(`bounded-${i}`, ago(2 * DAY));
    const bounded = new Housekeeping({ sql: sql(), logger, batchSize: 2, maxBatches: 1, now: () => now, tasks: [expiredAppendKeys(DAY)] });
    expect(await bounded.sweep()).toEqual({ append_keys: 2 });
    expect(await bounded.sweep()).toEqual({ append_keys: 2 });
    expect(await bounded.sweep()).toEqual({ append_keys: 1 });
  });
});

describe("housekeeping across nodes", () => {
  it("only the node holding the Redis lease sweeps in a period", async () => {
    const redis = new Redis(redisUrl());
    try {
      const key = `test:housekeeping:${process.pid}:${Math.random()}`;
      const swept: string[] = [];
      const node = (name: string) =>
        new Housekeeping({
          sql: { query: async () => [] },
          logger,
          lock: new RedisLeaderLock(redis, key, 60_000),
          releaseLock: false,
          now: () => now,
          tasks: [{ name, sweepBatch: async () => (swept.push(name), 0) }],
        });
      const results = await Promise.all([node("a").sweepIfLeader(), node("b").sweepIfLeader()]);
      expect(swept).toHaveLength(1);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
  });
});
