import { AppendInput, AppendRecord, S2 } from "@s2-dev/streamstore";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backendEnv, redisUrl } from "./helpers/backends.js";
import { subscribe } from "./helpers/clients.js";
import { startS2Double } from "./helpers/s2-double.js";
import { codes, createSessionId, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

const WAITPOINT = "id status afterSeqNum io tags timeoutAt completedAt record { seqNum data }";
const CREATE = `mutation($input: CreateWaitpointInput!) { createSessionWaitpoint(input: $input) { isCached waitpoint { ${WAITPOINT} } } }`;
const GET = `query($id: ID!) { waitpoint(id: $id) { ${WAITPOINT} session { id } } }`;
const APPEND = `mutation($id: ID!, $io: SessionIO!, $data: JSON!) { appendToSession(id: $id, io: $io, records: [{ data: $data }]) { lastSeqNum } }`;
/** Reads the waitpoint until it has the status (the read derives TIMED_OUT from the deadline). */
const untilStatus = (read: () => Promise<Record<string, any>>, status: string, timeoutMs = 10_000) =>
  vi.waitFor(
    async () => {
      const w = await read();
      expect(w.status).toBe(status);
      return w;
    },
    { timeout: timeoutMs, interval: 20 },
  );

/** The same suite with the in-process pending index and with the Redis one. */
describe.each(["in-process", "redis"] as const)("waitpoints with the %s index", (kind) => {
  let server: TestServer;
  let gql: Gql;
  let secretKey: string;
  let redis: Redis | undefined;
  let env: Record<string, string>;
  const signalsFor = (id: string) => {
    let n = 0;
    const off = server.services.signals.subscribe((s) => s.kind === "waitpoint" && s.waitpointId === id && n++);
    return { count: () => n, off };
  };
  const newSession = () => createSessionId(gql);
  const create = async (input: Record<string, unknown>) => {
    const r = await gql(CREATE, { input });
    expect(r.errors).toBeUndefined();
    return r.data!.createSessionWaitpoint as { isCached: boolean; waitpoint: Record<string, any> };
  };
  const get = async (id: string) => (await gql(GET, { id })).data!.waitpoint;
  const until = (id: string, status: string) => untilStatus(() => get(id), status);
  /** The row itself, as the sweeper leaves it (a read would derive TIMED_OUT before the sweep). */
  const sweptToTimedOut = (id: string) =>
    vi.waitFor(async () => expect((await server.services.prisma.waitpoint.findUniqueOrThrow({ where: { id } })).status).toBe("TIMED_OUT"), {
      timeout: 10_000,
      interval: 20,
    });

  beforeAll(async () => {
    env = kind === "redis" ? { ...(await backendEnv("postgres")), REDIS_URL: redisUrl() } : await backendEnv("pglite");
    server = await startServer(env);
    ({ gql, secretKey } = await server.newEnvironment());
    if (kind === "redis") redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.close();
  });

  it("waits for the next record on `in` by default and completes with it", async () => {
    const session = await newSession();
    await gql(APPEND, { id: session, io: "IN", data: "earlier" });
    const { waitpoint, isCached } = await create({ session, tags: ["turn"] });
    expect(isCached).toBe(false);
    expect(waitpoint).toMatchObject({ status: "PENDING", afterSeqNum: 1, io: "IN", tags: ["turn"], record: null, completedAt: null });
    expect(waitpoint.id).toMatch(/^waitpoint_[a-z0-9]{20,}$/);
    expect(Math.abs(Date.parse(waitpoint.timeoutAt) - Date.now() - 3_600_000)).toBeLessThan(10_000);
    await gql(APPEND, { id: session, io: "OUT", data: "not this channel" });
    // No sleep before this check: completion is once, so had the OUT append completed the
    // waitpoint, the record asserted below would be that one and not `in`'s seqNum 1.
    expect((await get(waitpoint.id)).status).toBe("PENDING");
    await gql(APPEND, { id: session, io: "IN", data: { text: "hello" } });
    const done = await until(waitpoint.id, "COMPLETED");
    expect(done).toMatchObject({ status: "COMPLETED", record: { seqNum: 1, data: { text: "hello" } }, session: { id: session } });
    expect(done.completedAt).not.toBeNull();
    const node = await gql(`query($id: ID!) { node(id: $id) { id ... on Waitpoint { status } } }`, { id: waitpoint.id });
    expect(node.data!.node).toEqual({ id: waitpoint.id, status: "COMPLETED" });
  });

  it("completes at once when the record is already there", async () => {
    const session = await newSession();
    await gql(APPEND, { id: session, io: "IN", data: "first" });
    const { waitpoint } = await create({ session, afterSeqNum: 0 });
    expect(waitpoint).toMatchObject({ status: "COMPLETED", record: { seqNum: 0, data: "first" } });
  });

  it("completes exactly once when an append lands between registering and the check", async () => {
    const session = await newSession();
    const store = server.services.store;
    const read = store.read.bind(store);
    let injected = false;
    const seen: string[] = [];
    // The race check's read: make the append happen right before it, and let the append's own
    // wake-up complete the waitpoint first, so both paths certainly try to complete it.
    store.read = async (channel, from, limit, maxBytes) => {
      if (!injected && channel.sessionId === session) {
        injected = true;
        await gql(APPEND, { id: session, io: "IN", data: "raced" });
        // Signals from other test files can share Redis: wait for this session's waitpoint.
        const { id } = await server.services.prisma.waitpoint.findFirstOrThrow({ where: { sessionId: session } });
        await vi.waitFor(() => expect(seen).toContain(id), { timeout: 10_000, interval: 5 });
      }
      return read(channel, from, limit, maxBytes);
    };
    const off = server.services.signals.subscribe((s) => s.kind === "waitpoint" && seen.push(s.waitpointId));
    try {
      const { waitpoint } = await create({ session });
      expect(injected).toBe(true);
      const done = await until(waitpoint.id, "COMPLETED");
      expect(done.record).toEqual({ seqNum: 0, data: "raced" });
      // Both completion attempts are over by now (create awaits its own; the append's was waited
      // for above), and this process's signals are delivered synchronously: no sleep needed.
      expect(seen.filter((id) => id === waitpoint.id)).toHaveLength(1);
    } finally {
      store.read = read;
      off();
    }
  });

  it("wakes 100 concurrent waiters on one channel together, each exactly once", async () => {
    const session = await newSession();
    const created = await Promise.all(Array.from({ length: 100 }, () => create({ session })));
    const ids = new Set(created.map((c) => c.waitpoint.id));
    expect(ids.size).toBe(100);
    const seen = new Map<string, number>();
    const off = server.services.signals.subscribe((s) => s.kind === "waitpoint" && ids.has(s.waitpointId) && seen.set(s.waitpointId, (seen.get(s.waitpointId) ?? 0) + 1));
    await Promise.all([gql(APPEND, { id: session, io: "IN", data: "go" }), gql(APPEND, { id: session, io: "IN", data: "again" })]);
    await vi.waitFor(() => expect(seen.size).toBe(100), { timeout: 10_000, interval: 20 });
    off();
    expect(seen.size).toBe(100);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const rows = await server.services.prisma.waitpoint.findMany({ where: { id: { in: [...ids] } } });
    expect(rows.every((r) => r.status === "COMPLETED" && r.recordSeqNum === 0n)).toBe(true);
  });

  it("keeps a long waiter registered after a short one times out", async () => {
    const session = await newSession();
    const long = (await create({ session, timeout: "1h" })).waitpoint;
    // A short deadline, and the sweeper's update of the row awaited, rather than a fixed sleep.
    const short = (await create({ session, timeout: "300ms" })).waitpoint;
    await sweptToTimedOut(short.id);
    expect((await get(short.id)).status).toBe("TIMED_OUT");
    if (redis) expect(await redis.pttl(`sessions:waitpoints:${session}/IN`)).toBeGreaterThan(3_000_000);
    await gql(APPEND, { id: session, io: "IN", data: "late but in time" });
    expect((await until(long.id, "COMPLETED")).record).toEqual({ seqNum: 0, data: "late but in time" });
    expect(await get(short.id)).toMatchObject({ status: "TIMED_OUT", record: null });
  });

  it("times out without any append, and a later record never completes it", async () => {
    const session = await newSession();
    const { waitpoint } = await create({ session, timeout: "300ms" });
    await sweptToTimedOut(waitpoint.id);
    // A waiter registered now completes in the same wake-up pass as the late record would have
    // completed the timed-out one: once it is COMPLETED, that pass is over (instead of a sleep).
    const witness = (await create({ session })).waitpoint;
    await gql(APPEND, { id: session, io: "IN", data: "too late" });
    expect((await until(witness.id, "COMPLETED")).record).toEqual({ seqNum: 0, data: "too late" });
    expect(await get(waitpoint.id)).toMatchObject({ status: "TIMED_OUT", record: null });
  });

  it(kind === "redis" ? "loses nothing when Redis is flushed between register and append" : "loses nothing across a restart", async () => {
    const session = await newSession();
    const { waitpoint } = await create({ session });
    if (redis) await redis.flushall();
    else {
      // The in-process index dies with the process; the rows rebuild it on the next start.
      await server.close();
      server = await startServer(env);
      gql = gqlClient(server.url, secretKey);
    }
    await gql(APPEND, { id: session, io: "IN", data: "after flush" });
    expect((await until(waitpoint.id, "COMPLETED")).record).toEqual({ seqNum: 0, data: "after flush" });
    // The index was rebuilt: a waiter registered afterwards is found through it again.
    const next = (await create({ session })).waitpoint;
    // The append that found the index lost started its rebuild without waiting for it.
    if (redis) await vi.waitFor(async () => expect(await redis!.exists("sessions:waitpoints:complete")).toBe(1), { timeout: 10_000, interval: 20 });
    await gql(APPEND, { id: session, io: "IN", data: "again" });
    expect((await until(next.id, "COMPLETED")).record.seqNum).toBe(1);
  });

  it("returns the same waitpoint for the same idempotencyKey on the same channel", async () => {
    const session = await newSession();
    const a = await create({ session, idempotencyKey: "turn-1" });
    const b = await create({ session, idempotencyKey: "turn-1", timeout: "5m" });
    expect([a.isCached, b.isCached, b.waitpoint.id]).toEqual([false, true, a.waitpoint.id]);
    const other = await create({ session, io: "OUT", idempotencyKey: "turn-1" });
    expect(other.waitpoint.id).not.toBe(a.waitpoint.id);
    const raced = await Promise.all(Array.from({ length: 10 }, () => gql(CREATE, { input: { session, idempotencyKey: "turn-2" } })));
    expect(new Set(raced.map((r) => r.data!.createSessionWaitpoint.waitpoint.id)).size).toBe(1);
    expect(raced.filter((r) => !r.data!.createSessionWaitpoint.isCached)).toHaveLength(1);
  });

  it("streams the waitpoint, then its completion, then ends (WebSocket and SSE)", async () => {
    const session = await newSession();
    const { waitpoint } = await create({ session });
    const q = `subscription($id: ID!) { waitpointChanged(id: $id) { id status record { data } } }`;
    const ws = subscribe(server, "ws", secretKey, q, { id: waitpoint.id });
    const sse = subscribe(server, "sse-distinct", secretKey, q, { id: waitpoint.id });
    await ws.waitFor(1);
    await sse.waitFor(1);
    await gql(APPEND, { id: session, io: "IN", data: "wake" });
    await Promise.all([ws.done, sse.done]);
    for (const sub of [ws, sse]) {
      expect(sub.completed).toBe(true);
      expect(sub.items).toEqual([
        { id: waitpoint.id, status: "PENDING", record: null },
        { id: waitpoint.id, status: "COMPLETED", record: { data: "wake" } },
      ]);
    }
  });

  it("refuses closed sessions, and a close completes nothing", async () => {
    const session = await newSession();
    // Long enough to still be PENDING after the close and the refused create, even on a loaded
    // machine; the timeout itself is then waited for, not slept through.
    const { waitpoint } = await create({ session, timeout: "2s" });
    await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id: session });
    expect(codes(await gql(CREATE, { input: { session } }))).toEqual(["SESSION_CLOSED"]);
    expect((await get(waitpoint.id)).status).toBe("PENDING");
    expect((await until(waitpoint.id, "TIMED_OUT")).record).toBeNull();
  });

  it("needs write on the session to create and read to see", async () => {
    const session = await newSession();
    const other = await newSession();
    const { waitpoint } = await create({ session });
    const mint = async (scopes: string[]) =>
      gqlClient(server.url, (await gql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: scopes })).data!.createPublicAccessToken.token);
    const reader = await mint([`read:sessions:${session}`]);
    expect(codes(await reader(CREATE, { input: { session } }))).toEqual(["FORBIDDEN"]);
    expect((await reader(GET, { id: waitpoint.id })).data!.waitpoint.id).toBe(waitpoint.id);
    const stranger = await mint([`write:sessions:${other}`]);
    const hidden = await stranger(GET, { id: waitpoint.id });
    expect(hidden.data?.waitpoint ?? null).toBeNull();
    expect(codes(await stranger(CREATE, { input: { session } }))).toEqual(["FORBIDDEN"]);
    expect((await stranger(CREATE, { input: { session: other } })).data!.createSessionWaitpoint.waitpoint.status).toBe("PENDING");
    const foreign = await server.newEnvironment();
    expect((await foreign.gql(GET, { id: waitpoint.id })).data!.waitpoint).toBeNull();
  });

  it.each([
    [{ timeout: "8d" }],
    [{ timeout: "soon" }],
    [{ afterSeqNum: -1 }],
    [{ idempotencyKey: "" }],
    [{ tags: [""] }],
    [{ session: "no-such-session" }],
  ])("rejects bad input %j", async (bad) => {
    const session = await newSession();
    const r = await gql(CREATE, { input: { session, ...bad } });
    expect(["BAD_USER_INPUT", "NOT_FOUND"]).toContain(codes(r)[0]);
    expect(await server.services.prisma.waitpoint.count({ where: { sessionId: session } })).toBe(0);
  });
});

describe("waitpoints on the S2 store", () => {
  let server: TestServer;
  let double: Awaited<ReturnType<typeof startS2Double>>;
  let env: Record<string, string>;
  beforeAll(async () => {
    double = await startS2Double("root");
    env = { ...(await backendEnv("pglite")), ...double.env };
    server = await startServer(env);
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  /** A client writing to the channel's S2 stream itself, with the token initializeSessionChannel gave it. */
  const writeDirectly = async (gql: Gql, id: string, data: unknown) => {
    const access = (await gql(`mutation($id: ID!) { initializeSessionChannel(id: $id, io: IN) { stream basin endpoint accessToken } }`, { id }))
      .data!.initializeSessionChannel;
    const s2 = new S2({ accessToken: access.accessToken, endpoints: { account: access.endpoint, basin: access.endpoint } });
    await s2.basin(access.basin).stream(access.stream, { forceTransport: "fetch" }).append(AppendInput.create([AppendRecord.string({ body: JSON.stringify(data) })]));
  };
  const until = async (gql: Gql, id: string, status: string) => untilStatus(async () => (await gql(GET, { id })).data!.waitpoint, status);

  it("wakes on a record written straight to S2, which never passed through the service", async () => {
    const { gql } = await server.newEnvironment();
    const session = await createSessionId(gql);
    await gql(APPEND, { id: session, io: "IN", data: "earlier" });
    const { waitpoint } = (await gql(CREATE, { input: { session } })).data!.createSessionWaitpoint;
    // No sleep: completion is once, so had "earlier" (seqNum 0) completed it, the record asserted
    // below would not be seqNum 1.
    expect((await gql(GET, { id: waitpoint.id })).data!.waitpoint.status).toBe("PENDING");
    await writeDirectly(gql, session, { text: "direct" });
    expect((await until(gql, waitpoint.id, "COMPLETED")).record).toEqual({ seqNum: 1, data: { text: "direct" } });
    // Nothing left to wait for: the channel is no longer followed.
    await vi.waitFor(() => expect(server.services.fanout.followerCount).toBe(0), { timeout: 10_000, interval: 20 });
  });

  it("wakes waitpoints registered before a restart", async () => {
    const { gql, secretKey } = await server.newEnvironment();
    const session = await createSessionId(gql);
    await gql(APPEND, { id: session, io: "IN", data: "earlier" });
    const { waitpoint } = (await gql(CREATE, { input: { session } })).data!.createSessionWaitpoint;
    await server.close();
    server = await startServer(env);
    const again = gqlClient(server.url, secretKey);
    await writeDirectly(again, session, "after restart");
    expect((await until(again, waitpoint.id, "COMPLETED")).record).toEqual({ seqNum: 1, data: "after restart" });
  });
});
