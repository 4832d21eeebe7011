import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryBuckets, RedisBuckets, type Buckets } from "../src/rate-limit/buckets.js";
import { Redis } from "ioredis";
import { redisUrl } from "./helpers/backends.js";
import { subscribe, type Transport } from "./helpers/clients.js";
import { codes, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

const APPEND = 'mutation($id: ID!) { appendToSession(id: $id, io: IN, records: [{ data: "hi" }]) { lastSeqNum } }';
const TAIL = "query($id: ID!) { session(id: $id) { in { tailSeqNum } } }";
const FOLLOW = "subscription($id: ID!) { sessionRecords(id: $id, io: OUT) { seqNum } }";

async function publicToken(gql: Gql, externalId: string) {
  await gql(`mutation($e: String!) { createSession(input: { type: "chat", externalId: $e }) { isCached } }`, { e: externalId });
  const r = await gql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s, expiresIn: "1h") { token } }`, { s: [`write:sessions:${externalId}`] });
  return r.data!.createPublicAccessToken.token as string;
}

const refusals = async (server: TestServer, reason: string) => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`sessions_limit_refusals_total{reason="${reason}"}`));
  return line ? Number(line.split(" ").pop()) : 0;
};

describe("token buckets", () => {
  async function drains(buckets: Buckets) {
    const rate = { burst: 3, perMs: 3_000 };
    const key = `k${Math.random()}`;
    const at = (now: number) => buckets.take(key, rate, now).then((t) => t.allowed);
    // Three at once, then none until a second (one token) has passed on the injected clock.
    expect([await at(1_000), await at(1_000), await at(1_000), await at(1_000)]).toEqual([true, true, true, false]);
    expect((await buckets.take(key, rate, 1_500)).retryAfterMs).toBe(500);
    expect(await at(2_000)).toBe(true);
    expect(await at(2_000)).toBe(false);
    // Refilled to the burst, never beyond it.
    expect(await Promise.all([at(1e9), at(1e9), at(1e9), at(1e9)])).toEqual([true, true, true, false]);
  }
  it("in process", () => drains(new MemoryBuckets()));
  it("in Redis", async () => {
    const redis = new Redis(redisUrl());
    try {
      await drains(new RedisBuckets(redis, `test:${process.pid}:`));
    } finally {
      redis.disconnect();
    }
  });
});

describe("rate limits over HTTP and subscribes", () => {
  let server: TestServer;
  let gql: Gql;
  const warnings: unknown[] = [];
  beforeAll(async () => {
    server = await startServer("pglite", {
      RATE_LIMIT_TOKEN_MUTATIONS: "5/1h",
      RATE_LIMIT_TOKEN_SUBSCRIBES: "2/1h",
      // Low enough that the secret key's appends below would exceed it, were it applied to them.
      RATE_LIMIT_IP_MUTATIONS: "6/1h",
    });
    gql = (await server.newEnvironment()).gql;
    server.services.logger.warn = ((...args: unknown[]) => void warnings.push(args)) as typeof server.services.logger.warn;
  });
  afterAll(() => server?.close());

  it("refuses a public token's flood of mutations with RATE_LIMITED, having written nothing", async () => {
    const token = await publicToken(gql, "flood");
    const asPage = gqlClient(server.url, token);
    warnings.length = 0;
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await asPage(APPEND, { id: "flood" }));
    expect(answers.map((a) => codes(a)[0] ?? "OK")).toEqual([...Array(5).fill("OK"), ...Array(3).fill("RATE_LIMITED")]);
    // Only the five accepted appends are in the channel.
    expect((await gql(TAIL, { id: "flood" })).data!.session.in.tailSeqNum).toBe(5);
    expect(await refusals(server, "token_mutations")).toBe(3);
    // One warn line for the three refusals of this client, not one per request.
    expect(warnings.filter((w) => JSON.stringify(w).includes("token_mutations"))).toHaveLength(1);
    // Queries are not rate limited.
    expect(codes(await asPage(TAIL, { id: "flood" }))).toEqual([]);
  });

  it.each<Transport>(["ws", "sse-distinct"])("refuses a public token's flood of subscribes over %s", async (transport) => {
    const id = `subs-${transport}`;
    const token = await publicToken(gql, id);
    const subs = Array.from({ length: 3 }, () => subscribe(server, transport, token, FOLLOW, { id }));
    try {
      await expect.poll(() => subs.filter((s) => JSON.stringify(s.errors).includes("RATE_LIMITED")).length).toBe(1);
      await gql('mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: 1 }]) { lastSeqNum } }', { id });
      // The two within the burst are live.
      await Promise.all(subs.filter((s) => s.errors.length === 0).map((s) => s.waitFor(1)));
    } finally {
      for (const s of subs) s.stop();
    }
  });

  it("leaves secret keys unlimited: bench-like appends never see RATE_LIMITED", async () => {
    const id = "bench";
    await gql(`mutation { createSession(input: { type: "bench", externalId: "${id}" }) { isCached } }`);
    const seen = new Set<string>();
    // 32 concurrent writers, as the throughput benchmark runs, well past every public default.
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = 0; i < 10; i++) for (const c of codes(await gql(APPEND, { id }))) seen.add(String(c));
      }),
    );
    expect([...seen]).toEqual([]);
    expect((await gql(TAIL, { id })).data!.session.in.tailSeqNum).toBe(320);
  });
});

describe("rate limits in Redis hold across nodes", () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startServer("postgres", { REDIS_URL: redisUrl(), RATE_LIMIT_TOKEN_MUTATIONS: "4/1h" });
    // The second node shares the first one's PostgreSQL and Redis.
    b = await startServer({ ...a.env }, {});
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("one token's budget is spent on either node", async () => {
    const { gql } = await a.newEnvironment();
    const token = await publicToken(gql, "both");
    const [onA, onB] = [gqlClient(a.url, token), gqlClient(b.url, token)];
    const answers = [];
    for (const client of [onA, onB, onA, onB, onA, onB]) answers.push(codes(await client(APPEND, { id: "both" }))[0] ?? "OK");
    // In process each node would allow four: shared, the token has four in all.
    expect(answers).toEqual(["OK", "OK", "OK", "OK", "RATE_LIMITED", "RATE_LIMITED"]);
    expect((await gql(TAIL, { id: "both" })).data!.session.in.tailSeqNum).toBe(4);
  });
});

describe("pending waitpoints per channel", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("pglite", { WAITPOINTS_PENDING_PER_CHANNEL: "2" });
  });
  afterAll(() => server?.close());

  it("refuses a waitpoint past the cap with RATE_LIMITED, per channel", async () => {
    const { gql } = await server.newEnvironment();
    await gql(`mutation { createSession(input: { type: "chat", externalId: "waiting" }) { isCached } }`);
    const create = (io: string) =>
      gql(`mutation($io: SessionIO!) { createSessionWaitpoint(input: { session: "waiting", io: $io, timeout: "7d" }) { waitpoint { id } } }`, { io });
    const answers = [];
    for (const io of ["IN", "IN", "IN", "OUT"]) answers.push(codes(await create(io))[0] ?? "OK");
    expect(answers).toEqual(["OK", "OK", "RATE_LIMITED", "OK"]);
    expect(await refusals(server, "pending_waitpoints")).toBe(1);
  });
});
