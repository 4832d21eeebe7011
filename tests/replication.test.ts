import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openClickHouse } from "../src/db/clickhouse.js";
import { pino } from "pino";
import { ReplicationMetrics } from "../src/replication/replication-metrics.js";
import { SessionReplicator } from "../src/replication/session-replicator.js";
import { backendEnv, freshClickHouseUrl, redisUrl, tempDir } from "./helpers/backends.js";
import { startOwnPostgres } from "./helpers/pg-cluster.js";
import { startProcess } from "./helpers/process.js";
import { settleReplication } from "./helpers/replication.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

/** Waits on another part's progress: generous, the machine is shared and slow at times. */
const WAIT = { timeout: 30_000, interval: 50 };

/** The replication part of a server process's /healthz (for consumers running in a child process). */
async function replicationHealth(url: string): Promise<ReturnType<ReplicationMetrics["snapshot"]>> {
  return ((await (await fetch(`${url}/healthz`)).json()) as { replication: ReturnType<ReplicationMetrics["snapshot"]> }).replication;
}

/** Rows in ClickHouse for an environment, as (id → closed?) after FINAL. */
async function clickhouseRows(clickhouseUrl: string) {
  const { client } = openClickHouse(clickhouseUrl);
  try {
    const rows = await (await client.query({ query: "SELECT session_id, closed_at, tags, _is_deleted FROM sessions_v1 FINAL ORDER BY session_id", format: "JSONEachRow" })).json<{
      session_id: string;
      closed_at: string | null;
      tags: string[];
    }>();
    return new Map(rows.map((r) => [r.session_id, r]));
  } finally {
    await client.close();
  }
}

/**
 * Writes sessions straight into PostgreSQL, as any node of the service would, one after another.
 * A write may fail only while the test has the database down (during()): it is retried once the
 * restart is over. Any other failure ends the load, and writes() and stop() throw it.
 */
function writer(databaseUrl: string, environmentId: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  // Idle connections cut by a restart: the pool drops them; the writes see their own failures.
  pool.on("error", () => {});
  let started = 0;
  let written = 0;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let outage: Promise<unknown> | undefined;
  const waiters = new Set<{ until: number; resolve: () => void; reject: (error: unknown) => void }>();
  const wake = () => {
    for (const w of waiters) {
      if (failure) w.reject(failure.error);
      else if (written >= w.until) w.resolve();
      else continue;
      waiters.delete(w);
    }
  };
  /**
   * One session: inserted, every third closed, every seventh deleted. Repeating a statement after
   * a lost answer is harmless (the insert skips an existing id). False if the load stopped first.
   */
  const write = async (i: number): Promise<boolean> => {
    const id = `session_w${String(i).padStart(6, "0")}${Math.random().toString(36).slice(2, 14).padEnd(12, "0")}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await pool.query(`INSERT INTO sessions (id, environment_id, type, tags) VALUES ($1, $2, 'load', $3) ON CONFLICT (id) DO NOTHING`, [id, environmentId, [`n:${i}`]]);
        if (i % 3 === 0) await pool.query(`UPDATE sessions SET closed_at = now(), updated_at = now() WHERE id = $1`, [id]);
        if (i % 7 === 0) await pool.query(`DELETE FROM sessions WHERE id = $1`, [id]);
        return true;
      } catch (error) {
        if (stopped) return false;
        // Only an outage excuses a failure. Once it is over, a pooled connection the restart cut
        // may still fail a statement or two before the pool replaces it: a few retries, no more.
        if (!outage || attempt >= 5) throw error;
        await outage;
      }
    }
  };
  const loop = (async () => {
    try {
      while (!stopped) {
        if (await write(started++)) written++;
        wake();
        // The load's pace (at most 200 sessions a second), not a wait for anything: it keeps the
        // rows to replicate bounded however long the events the test waits for take to come.
        await sleep(5);
      }
    } catch (error) {
      failure = { error };
      wake();
    }
  })();
  return {
    /** Sessions written so far. */
    count: () => written,
    /** Resolves once `more` sessions have been written after this call (rejects if the load fails, or after timeoutMs). */
    writes(more: number, timeoutMs = WAIT.timeout): Promise<void> {
      return new Promise((resolve, reject) => {
        const from = written;
        const timer = setTimeout(() => reject(new Error(`${written - from}/${more} sessions written within ${timeoutMs} ms`)), timeoutMs);
        waiters.add({ until: from + more, resolve: () => (clearTimeout(timer), resolve()), reject: (e) => (clearTimeout(timer), reject(e)) });
        wake();
      });
    },
    /** The test takes the database down until `restart` settles: writes failing meanwhile wait for it, then retry. */
    during<T>(restart: Promise<T>): Promise<T> {
      outage = restart.catch(() => {});
      return restart;
    },
    async stop() {
      stopped = true;
      await loop;
      await pool.end();
      if (failure) throw failure.error;
    },
  };
}

describe("replication into ClickHouse", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("clickhouse");
  });
  afterAll(() => server?.close());

  it("carries inserts, updates, closes and deletes, and reports itself on /healthz", async () => {
    const { gql, id: environmentId } = await server.newEnvironment();
    const create = async (externalId: string) =>
      (await gql(`mutation($e: String) { createSession(input: { type: "chat", externalId: $e, tags: ["a"] }) { session { id } } }`, { e: externalId })).data!.createSession.session.id as string;
    const [a, b, c] = [await create("a"), await create("b"), await create("c")];
    await gql(`mutation($id: ID!) { updateSession(id: $id, input: { tags: ["x", "y"] }) { id } }`, { id: a });
    await gql(`mutation($id: ID!) { closeSession(id: $id, reason: "done") { id } }`, { id: b });
    await server.services.prisma.session.delete({ where: { id: c } });
    await settleReplication(server.services);
    const rows = await clickhouseRows(server.env.CLICKHOUSE_URL!);
    expect(rows.get(a)?.tags).toEqual(["x", "y"]);
    expect(rows.get(b)?.closed_at).not.toBeNull();
    expect(rows.has(c)).toBe(false);
    const list = await gql(`{ sessions { totalCount edges { node { externalId status } } } sessionTags }`);
    expect(list.data).toEqual({
      sessions: { totalCount: 2, edges: [{ node: { externalId: "b", status: "CLOSED" } }, { node: { externalId: "a", status: "ACTIVE" } }] },
      sessionTags: ["a", "x", "y"],
    });
    const health = await (await fetch(`${server.url}/healthz`)).json();
    expect(health).toMatchObject({ status: "ok", lists: "clickhouse", replication: { leader: true, streaming: true, errors: 0 } });
    expect(health.replication.rowsFlushed).toBeGreaterThan(0);
    expect(environmentId).toMatch(/^env_/);
  });

  it("fills a filtered page past sessions that only an older, unmerged version puts in the filter", async () => {
    const { gql } = await server.newEnvironment();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push((await gql(`mutation { createSession(input: { type: "chat", tags: ["p"] }) { session { id } } }`)).data!.createSession.session.id);
    }
    const newest = ids.slice(4);
    for (const id of newest) await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id });
    await settleReplication(server.services);
    // Until ClickHouse merges, a closed session's open version sits next to its closed one.
    await server.services.clickhouse!.command({
      query: `INSERT INTO sessions_v1 SELECT environment_id, session_id, external_id, type, task_identifier, tags, NULL, expires_at,
              created_at, updated_at, 1, 0 FROM sessions_v1 FINAL WHERE session_id IN {ids:Array(String)}`,
      query_params: { ids: newest },
    });
    const PAGE = `query($after: String) { sessions(first: 3, after: $after, filter: { statuses: [ACTIVE], tags: ["p"] }) {
      totalCount edges { node { id status } } pageInfo { hasNextPage endCursor } } }`;
    const first = (await gql(PAGE)).data!.sessions;
    expect(first.totalCount).toBe(4);
    expect(first.edges.map((e: any) => e.node.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await gql(PAGE, { after: first.pageInfo.endCursor })).data!.sessions;
    expect(second.edges.map((e: any) => e.node.id)).toEqual([ids[0]]);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });
});

describe("replication faults", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!().catch(() => {});
  });

  /** A database with the schema and an environment, plus a replication-only process's settings. */
  async function setup(databaseUrl?: string, clickhouseUrl = freshClickHouseUrl()) {
    const env: Record<string, string> = { ...(await backendEnv("postgres")), CLICKHOUSE_URL: clickhouseUrl, REPLICATION_FLUSH_MS: "20", REPLICATION_LEADER_RENEW_MS: "300" };
    if (databaseUrl) env.DATABASE_URL = databaseUrl;
    // An API node that does not replicate: it migrates both databases and is where the test reads state.
    const api = await startServer({ ...env, REPLICATION_ENABLED: "0" });
    cleanup.push(() => api.close());
    const { id } = await api.newEnvironment();
    return { env, api, environmentId: id };
  }

  /** A server that replicates, closed after the test. */
  async function startConsumer(env: Record<string, string>) {
    const consumer = await startServer({ ...env, REPLICATION_ENABLED: "1" });
    cleanup.push(() => consumer.close());
    return consumer;
  }

  /** Steady session writes into the environment, stopped after the test. */
  function startLoad(env: Record<string, string>, environmentId: string) {
    const load = writer(env.DATABASE_URL!, environmentId);
    cleanup.push(() => load.stop());
    return load;
  }

  it("copies the sessions that existed before replication started", async () => {
    const { env, api } = await setup();
    const { gql } = await api.newEnvironment();
    for (let i = 0; i < 30; i++) await gql(`mutation($e: String) { createSession(input: { type: "old", externalId: $e }) { isCached } }`, { e: `old-${i}` });
    await gql(`mutation { closeSession(id: "old-1") { id } }`);
    const consumer = await startConsumer(env);
    await settleReplication(consumer.services);
    expect((await clickhouseRows(env.CLICKHOUSE_URL!)).size).toBe(30);
  }, 60_000);

  // A long budget: two server processes start in it, and on a loaded machine each start can take 30 s.
  it("ends a stream that stop() met before its connection existed, at every point of the start", async () => {
    const { env } = await setup();
    const { client: clickhouse } = openClickHouse(env.CLICKHOUSE_URL!);
    cleanup.push(() => clickhouse.close());
    const slot = `stop_race_${Date.now().toString(36)}`;
    const options = { databaseUrl: env.DATABASE_URL!, slot, publication: "sessions_clickhouse", batchSize: 100, flushIntervalMs: 20, maxBackoffMs: 100 };
    const replicator = new SessionReplicator(options, clickhouse, pino({ level: "silent" }), new ReplicationMetrics());
    const admin = new pg.Client({ connectionString: env.DATABASE_URL });
    await admin.connect();
    cleanup.push(async () => {
      await admin.query("SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [slot]);
      await admin.end();
    });
    await replicator.ensureSlot();
    // stop() after 0, 1, 2… microtasks of run(): the first few land before the library has made its
    // connection, where its own stop() finds nothing to end. A run that outlives its stop hangs here.
    for (let ticks = 0; ticks < 12; ticks++) {
      const running = replicator.run().catch((error: unknown) => error);
      for (let i = 0; i < ticks; i++) await Promise.resolve();
      await replicator.stop();
      // Settled (ended, or failed as it was cut off), not left streaming.
      await running;
      // The next run needs the slot back: PostgreSQL frees it once the walsender is gone.
      await vi.waitFor(async () => expect((await admin.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [slot])).rows).toEqual([{ active: false }]), WAIT);
    }
  }, 60_000);

  it("loses no row when the consumer is killed (SIGKILL) mid-stream and restarted", async () => {
    const { env, api, environmentId } = await setup();
    const consumer = startProcess({ ...env, REPLICATION_BATCH_SIZE: "50" });
    const { url } = await consumer.ready;
    // The load starts once the slot streams: a slot made under writes waits for PostgreSQL's next
    // snapshot of running transactions (up to 15 s), and the kill is meant to come mid-stream.
    await vi.waitFor(async () => expect(await replicationHealth(url)).toMatchObject({ leader: true, streaming: true }), WAIT);
    const load = startLoad(env, environmentId);
    // Mid-stream: batches of the load are in ClickHouse and acknowledged, more are coming.
    await vi.waitFor(async () => expect((await replicationHealth(url)).rowsFlushed).toBeGreaterThanOrEqual(100), WAIT);
    await consumer.stop("SIGKILL");
    // Sessions written while no consumer runs: the restarted one finds them in the slot.
    await load.writes(20);
    const again = startProcess(env);
    cleanup.push(() => again.stop());
    const { url: againUrl } = await again.ready;
    // The new consumer has the slot (the dead one's lock and connection released) and flushes.
    await vi.waitFor(async () => {
      const health = await replicationHealth(againUrl);
      expect(health.streaming).toBe(true);
      expect(health.rowsFlushed).toBeGreaterThan(0);
    }, WAIT);
    await load.stop();
    expect(load.count()).toBeGreaterThan(20);
    await settleReplication(api.services, 30_000);
  }, 180_000);

  // A long budget, as in the SIGKILL case: three processes start in it (two of them ClickHouse's).
  it("catches up after ClickHouse was unavailable for a while", async () => {
    const dataDir = tempDir("ch-");
    // The first start takes a free port; the restart takes the same one, as a restarted server would.
    let port = "0";
    const startClickHouse = () => {
      const child = spawn(process.execPath, ["--import", "tsx", "tests/clickhouse/main.ts"], { env: { ...process.env, CLICKHOUSE_DATA_DIR: dataDir, CLICKHOUSE_PORT: port }, stdio: ["ignore", "pipe", "inherit"] });
      return new Promise<typeof child>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          const listening = /listening on http:\/\/[^:]+:(\d+)/.exec(String(d));
          if (!listening) return;
          port = listening[1]!;
          resolve(child);
        });
        // A start that fails (the port taken meanwhile) says so instead of leaving the test to time out.
        child.on("exit", (code, signal) => reject(new Error(`ClickHouse exited before listening (${code ?? signal})`)));
      });
    };
    let clickhouse = await startClickHouse();
    cleanup.push(async () => clickhouse.kill("SIGKILL"));
    const { env, api, environmentId } = await setup(undefined, `http://127.0.0.1:${port}/replicated`);
    const consumer = await startConsumer(env);
    const metrics = consumer.services.replication!.metrics;
    // Streaming before the load (see the SIGKILL case), so the outage comes mid-stream.
    await vi.waitFor(() => expect(metrics.streaming).toBe(true), WAIT);
    const load = startLoad(env, environmentId);
    await vi.waitFor(() => expect(metrics.rowsFlushed).toBeGreaterThan(0), WAIT);
    const errorsBefore = metrics.errors;
    clickhouse.kill("SIGKILL");
    // The consumer meets the outage: an insert fails, and its batch is retried from then on.
    await vi.waitFor(() => expect(metrics.errors).toBeGreaterThan(errorsBefore), WAIT);
    // Sessions written while ClickHouse is away; none can be flushed until it is back.
    await load.writes(20);
    const flushedBeforeRestart = metrics.rowsFlushed;
    clickhouse = await startClickHouse();
    // The retried batch and what came after reach the new ClickHouse process.
    await vi.waitFor(() => expect(metrics.rowsFlushed).toBeGreaterThan(flushedBeforeRestart), WAIT);
    await load.stop();
    await settleReplication(consumer.services, 30_000);
    expect(api.services.config.replicationEnabled).toBe(false);
    await settleReplication(api.services);
  }, 180_000);

  it("survives a PostgreSQL restart during writes", async () => {
    const cluster = await startOwnPostgres();
    cleanup.push(async () => cluster.stop());
    const { env, environmentId } = await setup(cluster.url);
    const consumer = await startConsumer(env);
    const metrics = consumer.services.replication!.metrics;
    await vi.waitFor(() => expect(metrics.streaming).toBe(true), WAIT);
    const load = startLoad(env, environmentId);
    // The restart comes mid-stream: rows of the load are in ClickHouse already.
    await vi.waitFor(() => expect(metrics.rowsFlushed).toBeGreaterThan(0), WAIT);
    const t0 = Date.now();
    await load.during(cluster.restart());
    // A fast shutdown waits for the walsender until the consumer confirms the server's last position.
    expect(Date.now() - t0, cluster.log()).toBeLessThan(10_000);
    // Sessions written after the restart: the consumer must be back on the slot to carry them.
    await load.writes(20);
    await load.stop();
    expect(load.count()).toBeGreaterThan(10);
    await settleReplication(consumer.services, 30_000);
  }, 180_000);

  it("fails over to a second consumer within seconds when the leader dies", async () => {
    const { env, api, environmentId } = await setup();
    const withRedis = { ...env, REDIS_URL: redisUrl() };
    const first = startProcess(withRedis);
    const { url: firstUrl } = await first.ready;
    await vi.waitFor(async () => expect(await replicationHealth(firstUrl)).toMatchObject({ leader: true, streaming: true }), WAIT);
    const second = await startServer({ ...withRedis, REPLICATION_ENABLED: "1" });
    cleanup.push(() => second.close());
    const replication = second.services.replication!;
    // The second asks for the lock and is refused, twice (a renewal period apart): it stays a follower.
    await vi.waitFor(() => expect(replication.leaderLockRefusals).toBeGreaterThanOrEqual(2), WAIT);
    expect(replication.metrics.leader).toBe(false);
    const load = startLoad(env, environmentId);
    // The first carries the load before it dies.
    await vi.waitFor(async () => expect((await replicationHealth(firstUrl)).rowsFlushed).toBeGreaterThan(0), WAIT);
    const killedAt = Date.now();
    await first.stop("SIGKILL");
    await vi.waitFor(() => expect(replication.metrics.leader).toBe(true), { timeout: 10_000, interval: 10 });
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    // The new leader carries it on.
    await vi.waitFor(() => expect(replication.metrics.rowsFlushed).toBeGreaterThan(0), WAIT);
    await load.stop();
    await settleReplication(second.services, 30_000);
    const redis = new Redis(redisUrl());
    cleanup.push(async () => redis.disconnect());
    // The new leader holds the lease in Redis. Waited for, not read once: on a loaded machine a lease
    // renewal can come after the lease ran out, and the leader then takes it again.
    const lease = `sessions:replication:leader:sessions_clickhouse_${new URL(env.DATABASE_URL!).pathname.slice(1)}`;
    await vi.waitFor(async () => expect(await redis.exists(lease)).toBe(1), WAIT);
    expect(api).toBeDefined();
  }, 180_000);
});
