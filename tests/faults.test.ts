import { spawn, type ChildProcess } from "node:child_process";
import { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AppendToSessionDocument, CreateSessionDocument, SessionRecordsDocument } from "../client/generated/graphql.js";
import { SessionsClient } from "../client/src/sessions-client.js";
import { backendEnv, freePort } from "./helpers/backends.js";
import { subscribe } from "./helpers/clients.js";
import { createSessionId, startServer, type TestServer } from "./helpers/test-server.js";

/**
 * Failures in a row a client of the churn test puts up with. A cut (server.dropConnections, which
 * closes every connection at once) fails the requests and subscriptions it finds open; once one has
 * failed, the cut is over and a retry at once gets a new connection, so no back-off waits out
 * anything. Twenty failures in a row are something else: the last one fails the test.
 */
const FAILURES_IN_A_ROW = 20;

describe("subscribers that keep disconnecting", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("postgres");
  });
  afterAll(() => server?.close());

  it("1,000 random disconnect/reconnect cycles during continuous appends: every record once, in order", async () => {
    const { secretKey } = await server.newEnvironment();
    const client = new SessionsClient({ url: server.url, token: secretKey });
    const id = (await client.request(CreateSessionDocument, { input: { type: "churn" } })).createSession.session.id;
    const TOTAL = 1_500;
    const SUBSCRIBERS = 20;
    const CYCLES = 1_000;
    let cycles = 0;
    let appended = 0;
    const writer = (async () => {
      while (appended < TOTAL) {
        const n = Math.min(1 + Math.floor(Math.random() * 5), TOTAL - appended);
        const records = Array.from({ length: n }, (_, i) => ({ data: appended + i }));
        // A cut connection may have lost the answer, not the append: retry under the same key.
        for (let failures = 0; ; ) {
          try {
            await client.request(AppendToSessionDocument, { id, io: "OUT", records, idempotencyKey: `batch-${appended}` });
            break;
          } catch (error) {
            if (++failures >= FAILURES_IN_A_ROW) throw error;
          }
        }
        appended += n;
        if (Math.random() < 0.003) server.dropConnections();
      }
    })();
    const subscriber = async (k: number) => {
      const own = new SessionsClient({ url: server.url, token: secretKey, transport: k % 2 ? "sse" : "ws", webSocketImpl: (await import("ws")).default });
      const seen: number[] = [];
      let failures = 0;
      while (seen.length < TOTAL) {
        // Stay for a random handful of records (or until a cut), then leave and come back.
        const stayFor = cycles < CYCLES ? 1 + Math.floor(Math.random() * 8) : Infinity;
        let got = 0;
        try {
          for await (const { sessionRecords } of own.subscribe(SessionRecordsDocument, { id, io: "OUT", fromSeqNum: seen.length })) {
            seen.push(sessionRecords.seqNum);
            failures = 0;
            if (++got >= stayFor || seen.length === TOTAL) break;
          }
        } catch (error) {
          // Cut: back at once, from where it left off.
          if (++failures >= FAILURES_IN_A_ROW) throw error;
        }
        cycles++;
      }
      await own.close();
      return seen;
    };
    // The writer too, so that its failure ends the test at once rather than stalling the readers.
    const [results] = await Promise.all([Promise.all(Array.from({ length: SUBSCRIBERS }, (_, k) => subscriber(k))), writer]);
    expect(cycles).toBeGreaterThanOrEqual(CYCLES);
    const expected = Array.from({ length: TOTAL }, (_, i) => i);
    for (const seen of results) expect(seen).toEqual(expected);
    await client.close();
  }, 240_000);
});

describe("Redis restarted during waits and fan-out", () => {
  let redis: ChildProcess | undefined;
  let port: number;
  const startRedis = async () => {
    redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    // Up once it takes a connection.
    await vi.waitFor(
      () =>
        new Promise<void>((resolve, reject) => {
          const s = new Socket();
          s.once("connect", () => (s.destroy(), resolve())).once("error", reject).connect(port, "127.0.0.1");
        }),
      { timeout: 10_000, interval: 20 },
    );
  };
  const stopRedis = () =>
    new Promise<void>((resolve) => {
      redis!.once("exit", () => resolve());
      redis!.kill("SIGKILL");
    });
  afterAll(() => redis?.kill("SIGKILL"));

  it("loses no waitpoint and subscribers recover", async () => {
    port = await freePort();
    await startRedis();
    const env: Record<string, string> = { ...(await backendEnv("postgres")), REDIS_URL: `redis://127.0.0.1:${port}` };
    const a = await startServer(env);
    const b = await startServer({ ...env, DATA_DIR: `${env.DATA_DIR}-b` });
    try {
      const { gql, secretKey } = await a.newEnvironment();
      const id = await createSessionId(gql, "r");
      const wp = (await gql(`mutation($s: ID!) { createSessionWaitpoint(input: { session: $s }) { waitpoint { id } } }`, { s: id })).data!
        .createSessionWaitpoint.waitpoint.id;
      const onB = subscribe(b, "sse-distinct", secretKey, `subscription($id: ID!) { sessionRecords(id: $id, io: IN, fromSeqNum: 0) { seqNum } }`, { id });
      await b.liveSubscribers({ sessionId: id, io: "IN" });
      await gql(`mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: "before" }]) { lastSeqNum } }`, { id });
      await stopRedis();
      await startRedis();
      // Both nodes reconnect to Redis on their own schedule. Wait until a signal published on A is
      // heard on B again (republished until it is: one sent before B resubscribed is lost). B hears
      // the channels it serves only: the probe is on B's subscriber's channel, at a tail (0) that
      // moves nothing.
      const probe = { kind: "append", sessionId: id, io: "IN", tail: 0 } as const;
      let heard = false;
      const off = b.services.signals.subscribe((s) => s.kind === "append" && s.sessionId === id && s.tail === 0 && (heard = true));
      try {
        await vi.waitFor(
          () => {
            a.services.signals.publish(probe);
            expect(heard).toBe(true);
          },
          { timeout: 20_000, interval: 50 },
        );
      } finally {
        off();
      }
      await gql(`mutation($id: ID!) { appendToSession(id: $id, io: IN, records: [{ data: "after restart" }]) { lastSeqNum } }`, { id });
      await expect
        .poll(async () => (await gql(`query($id: ID!) { waitpoint(id: $id) { status } }`, { id: wp })).data!.waitpoint.status, { timeout: 10_000, interval: 50 })
        .toBe("COMPLETED");
      // Node B hears about appends on A again once its Redis subscription is back.
      await gql(`mutation($id: ID!) { appendToSession(id: $id, io: IN, records: [{ data: "later" }]) { lastSeqNum } }`, { id });
      expect((await onB.waitFor(2)).map((r: { seqNum: number }) => r.seqNum)).toEqual([0, 1]);
      onB.stop();
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);
});
