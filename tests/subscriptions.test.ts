import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subscribe, transports } from "./helpers/clients.js";
import { twoNodes } from "./helpers/nodes.js";
import type { RedisSignals } from "../src/live/signals.js";
import { codes, createSessionId, gqlClient, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

const RECORDS = `subscription($id: ID!, $io: SessionIO!, $from: SeqNum) { sessionRecords(id: $id, io: $io, fromSeqNum: $from) { seqNum data } }`;
const APPEND = `mutation($id: ID!, $records: [AppendRecordInput!]!) { appendToSession(id: $id, io: OUT, records: $records) { lastSeqNum } }`;
const seqs = (items: { seqNum: number }[]) => items.map((r) => r.seqNum);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe.each(transports)("subscriptions over %s", (transport) => {
  let server: TestServer;
  let gql: Gql;
  let key: string;
  const newSession = () => createSessionId(gql);
  const append = async (id: string, ...data: unknown[]) => {
    const r = await gql(APPEND, { id, records: data.map((d) => ({ data: d })) });
    expect(r.errors).toBeUndefined();
  };

  beforeAll(async () => {
    server = await startServer("pglite");
    const env = await server.newEnvironment();
    gql = env.gql;
    key = env.secretKey;
  });
  afterAll(() => server?.close());

  it("replays from a seqNum, then follows live, with no gap or duplicate", async () => {
    const id = await newSession();
    await append(id, ...range(0, 5));
    const sub = subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: 2 });
    expect(seqs(await sub.waitFor(3))).toEqual([2, 3, 4]);
    // Appends racing the switch from replay to live.
    await Promise.all([append(id, 5, 6), append(id, 7)]);
    for (let i = 8; i < 20; i++) await append(id, i);
    const got = await sub.waitFor(18);
    expect(seqs(got)).toEqual(range(2, 20));
    expect(got.map((r: any) => r.data).sort((a: number, b: number) => a - b)).toEqual(range(2, 20));
    sub.stop();
  });

  it("subscribers that resumed at different positions, by id and by name, each get every record once, in order, and the same records", async () => {
    const name = `spread-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const id = (await gql(`mutation($n: String!) { createSession(input: { type: "t", externalId: $n }) { session { id } } }`, { n: name })).data!
      .createSession.session.id as string;
    await append(id, ...range(0, 8));
    const joins = [
      { ref: id, from: 0 },
      { ref: name, from: 3 },
      { ref: id, from: 6 },
      { ref: name, from: 8 },
    ];
    const subs = joins.map(({ ref, from }) => subscribe(server, transport, key, RECORDS, { id: ref, io: "OUT", from }));
    // Live once each has replayed its own backlog; from then on the shared live path serves them all.
    await Promise.all(subs.map((sub, i) => (8 - joins[i]!.from > 0 ? sub.waitFor(8 - joins[i]!.from) : undefined)));
    await server.liveSubscribers({ sessionId: id, io: "OUT" }, joins.length);
    for (let i = 8; i < 20; i++) await append(id, { n: i });
    const got = await Promise.all(subs.map((sub, i) => sub.waitFor(20 - joins[i]!.from)));
    got.forEach((records, i) => expect(seqs(records)).toEqual(range(joins[i]!.from, 20)));
    // The live records are the same for all, whoever named the session how.
    const live = got.map((records) => records.filter((r: { seqNum: number }) => r.seqNum >= 8));
    for (const records of live) expect(records).toEqual(live[0]);
    subs.forEach((sub) => sub.stop());
  });

  it("delivers live records exactly as a later read returns them", async () => {
    const id = await newSession();
    const FULL = `subscription($id: ID!) { sessionRecords(id: $id, io: OUT) { seqNum timestamp data } }`;
    const sub = subscribe(server, transport, key, FULL, { id });
    // No fromSeqNum: the subscription starts at the tail once it is live, so append only then.
    await server.liveSubscribers({ sessionId: id, io: "OUT" });
    const data = [{ text: "hi", n: 1.5, nested: { list: [1, null, "x"], ok: true } }, 42, "plain"];
    await append(id, ...data);
    const live = await sub.waitFor(3);
    const read = await gql(`query($id: ID!) { session(id: $id) { out { records { seqNum timestamp data } } } }`, { id });
    expect(live).toEqual(read.data!.session.out.records);
    expect(live.map((r: any) => r.data)).toEqual(data);
    sub.stop();
  });

  it("starts at the tail when no fromSeqNum is given", async () => {
    const id = await newSession();
    await append(id, "old");
    const sub = subscribe(server, transport, key, RECORDS, { id, io: "OUT" });
    // The subscription starts at the tail as of the moment it turns live: append only then.
    await server.liveSubscribers({ sessionId: id, io: "OUT" });
    await append(id, "new");
    expect((await sub.waitFor(1)).map((r: any) => r.data)).toEqual(["new"]);
    sub.stop();
  });

  it("resumes after a disconnect exactly where it stopped", async () => {
    const id = await newSession();
    await append(id, ...range(0, 10));
    const first = subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: 0 });
    const seen = await first.waitFor(10);
    first.stop();
    await append(id, ...range(10, 15));
    const last = seen.at(-1)!.seqNum;
    const second = subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: last + 1 });
    await append(id, 15);
    expect(seqs(await second.waitFor(6))).toEqual(range(10, 16));
    second.stop();
  });

  it("completes once the session is closed and every earlier record is delivered", async () => {
    const id = await newSession();
    const sub = subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: 0 });
    await append(id, ...range(0, 50));
    await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id });
    await sub.done;
    expect(sub.completed).toBe(true);
    expect(seqs(sub.items)).toEqual(range(0, 50));
    // Subscribing to a closed session replays and completes.
    const late = subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: 45 });
    await late.done;
    expect([late.completed, seqs(late.items)]).toEqual([true, range(45, 50)]);
  });

  it("shares one follower per channel among its subscribers", async () => {
    const id = await newSession();
    const before = server.services.fanout.followerCount;
    const subs = Array.from({ length: 5 }, () => subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: 0 }));
    await append(id, "a", "b");
    for (const s of subs) expect(seqs(await s.waitFor(2))).toEqual([0, 1]);
    expect(server.services.fanout.followerCount).toBe(before + 1);
    subs.forEach((s) => s.stop());
  });

  it("sends the session, then each change", async () => {
    const id = await newSession();
    const sub = subscribe(server, transport, key, `subscription($id: ID!) { sessionChanged(id: $id) { tags status } }`, { id });
    expect(await sub.waitFor(1)).toEqual([{ tags: [], status: "ACTIVE" }]);
    await gql(`mutation($id: ID!) { updateSession(id: $id, input: { tags: ["x"] }) { id } }`, { id });
    await sub.waitFor(2);
    await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id });
    expect((await sub.waitFor(3)).slice(1)).toEqual([{ tags: ["x"], status: "ACTIVE" }, { tags: ["x"], status: "CLOSED" }]);
    sub.stop();
  });

  it("checks scopes on subscribe", async () => {
    const id = await newSession();
    const other = await newSession();
    const token = (await gql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: [`read:sessions:${id}`] }))
      .data!.createPublicAccessToken.token;
    const denied = subscribe(server, transport, token, RECORDS, { id: other, io: "OUT", from: 0 });
    await denied.done;
    expect(JSON.stringify(denied.errors)).toMatch(/FORBIDDEN|not allowed/);
    const anonymous = subscribe(server, transport, "nope", RECORDS, { id, io: "OUT", from: 0 });
    await anonymous.done;
    // graphql-ws closes an unauthenticated connection_init with 4403 (reason included); a graphql-sse
    // reservation without a valid credential is refused with 401.
    const described = anonymous.errors.map((e: any) => ({ e, code: e?.code, reason: e?.reason, status: e?.response?.status }));
    expect(JSON.stringify(described)).toMatch(/UNAUTHENTICATED|invalid access token|"code":4403|"status":401/);
    await append(id, "visible");
    const allowed = subscribe(server, transport, token, RECORDS, { id, io: "OUT", from: 0 });
    expect((await allowed.waitFor(1)).map((r: any) => r.data)).toEqual(["visible"]);
    allowed.stop();
  });
});

describe("subscriptions across processes", () => {
  // The second node shares nothing with the first but PostgreSQL and Redis.
  const nodes = twoNodes();

  it("delivers an append on one node to subscribers on another, through Redis", async () => {
    const { secretKey, gql } = await nodes.a.newEnvironment();
    const id = await createSessionId(gql);
    const onB = subscribe(nodes.b, "ws", secretKey, RECORDS, { id, io: "OUT", from: 0 });
    const sseOnB = subscribe(nodes.b, "sse-distinct", secretKey, RECORDS, { id, io: "OUT", from: 0 });
    // B is another process, out of reach of liveSubscribers. Both subscribe from 0, so the first
    // record arrives either way; once it has, each subscriber is live on B, and the rest can only
    // reach B through Redis (B's follower learns of A's appends from nothing else).
    await gql(APPEND, { id, records: [{ data: 0 }] });
    await Promise.all([onB.waitFor(1), sseOnB.waitFor(1)]);
    for (let i = 1; i < 10; i++) await gql(APPEND, { id, records: [{ data: i }] });
    expect(seqs(await onB.waitFor(10))).toEqual(range(0, 10));
    expect(seqs(await sseOnB.waitFor(10))).toEqual(range(0, 10));
    await gqlClient(nodes.b.url, secretKey)(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id });
    await gql(APPEND, { id, records: [{ data: "late" }] }).then((r) => expect(codes(r)).toEqual(["SESSION_CLOSED"]));
    await Promise.all([onB.done, sseOnB.done]);
    expect([onB.completed, sseOnB.completed]).toEqual([true, true]);
  });
});

describe("signals per topic across processes", () => {
  const nodes = twoNodes();

  it("a node hears the appends of the channels it serves only", async () => {
    const signals = nodes.a.services.signals as RedisSignals;
    const { secretKey, gql } = await nodes.a.newEnvironment();
    const id = await createSessionId(gql);
    const onB = gqlClient(nodes.b.url, secretKey);
    const before = signals.received.get("append") ?? 0;
    for (let i = 0; i < 5; i++) await onB(APPEND, { id, records: [{ data: i }] });
    // A revocation from B reaches every node, and after B's appends: one publisher connection, in order.
    const revoked = new Promise<void>((resolve) => {
      const off = signals.subscribe((s) => {
        if (s.kind === "revoke") {
          off();
          resolve();
        }
      });
    });
    await onB(`mutation { revokePublicAccessTokens { revokedBefore } }`);
    await revoked;
    expect(signals.received.get("append") ?? 0).toBe(before);
    // Once A serves the channel, B's appends reach it: its follower listened before it read the tail.
    const sub = subscribe(nodes.a, "ws", secretKey, RECORDS, { id, io: "OUT", from: 0 });
    await sub.waitFor(5);
    await nodes.a.liveSubscribers({ sessionId: id, io: "OUT" });
    await onB(APPEND, { id, records: [{ data: 5 }] });
    expect(seqs(await sub.waitFor(6))).toEqual(range(0, 6));
    expect(signals.received.get("append")).toBe(before + 1);
    sub.stop();
  });
});

describe("subscriptions on the S2 store", () => {
  let server: TestServer;
  let double: Awaited<ReturnType<typeof import("./helpers/s2-double.js").startS2Double>>;
  beforeAll(async () => {
    const { startS2Double } = await import("./helpers/s2-double.js");
    const { backendEnv } = await import("./helpers/backends.js");
    double = await startS2Double("root");
    server = await startServer({ ...(await backendEnv("pglite")), ...double.env });
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  it("replays, follows live and completes on close, reading records from S2", async () => {
    const { secretKey, gql } = await server.newEnvironment();
    const id = await createSessionId(gql);
    await gql(APPEND, { id, records: range(0, 5).map((data) => ({ data })) });
    const sub = subscribe(server, "ws", secretKey, RECORDS, { id, io: "OUT", from: 1 });
    expect(seqs(await sub.waitFor(4))).toEqual([1, 2, 3, 4]);
    for (let i = 5; i < 12; i++) await gql(APPEND, { id, records: [{ data: i }] });
    expect((await sub.waitFor(11)).map((r: any) => r.data)).toEqual(range(1, 12));
    await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id });
    await sub.done;
    expect(sub.completed).toBe(true);
    expect(double.requests.some((r) => r.startsWith("GET /v1/streams/") && r.endsWith("/records"))).toBe(true);
  });

  it("delivers records a client wrote straight to S2 with the token initializeSessionChannel gave it", async () => {
    const { AppendInput, AppendRecord, S2 } = await import("@s2-dev/streamstore");
    const { secretKey, gql } = await server.newEnvironment();
    const id = await createSessionId(gql);
    await gql(APPEND, { id, records: [{ data: "via graphql" }] });
    const sub = subscribe(server, "sse-distinct", secretKey, RECORDS, { id, io: "OUT", from: 0 });
    expect(seqs(await sub.waitFor(1))).toEqual([0]);
    const access = (await gql(`mutation($id: ID!) { initializeSessionChannel(id: $id, io: OUT) { stream basin endpoint accessToken } }`, { id }))
      .data!.initializeSessionChannel;
    const direct = new S2({ accessToken: access.accessToken, endpoints: { account: access.endpoint, basin: access.endpoint } });
    const stream = direct.basin(access.basin).stream(access.stream, { forceTransport: "fetch" });
    await stream.append(AppendInput.create([AppendRecord.string({ body: JSON.stringify({ text: "direct" }) })]));
    // Nothing passed through the service: only the S2 read session can bring it.
    expect((await sub.waitFor(2)).map((r: any) => r.data)).toEqual(["via graphql", { text: "direct" }]);
    await gql(APPEND, { id, records: [{ data: "graphql again" }] });
    expect((await sub.waitFor(3)).map((r: any) => r.data)).toEqual(["via graphql", { text: "direct" }, "graphql again"]);
    sub.stop();
  });
});
