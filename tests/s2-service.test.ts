import { AppendInput, AppendRecord, S2, S2Endpoints } from "@s2-dev/streamstore";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseAppendGuard } from "../src/channels/append-guard.js";
import { S2StreamStore } from "../src/channels/s2-stream-store.js";
import { loadConfig } from "../src/config.js";
import { backendEnv } from "./helpers/backends.js";
import { subscribe } from "./helpers/clients.js";
import { startS2Double } from "./helpers/s2-double.js";
import { s2Fixture } from "./helpers/s2-fixture.js";
import { codes, createSessionId, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * The service on S2 (through the double) where a real deployment differs from the happy path
 * (issue #18): direct writes to fresh channels, S2's metering, bodies that are not JSON, a wrong
 * basin, separate account and basin endpoints.
 */

const APPEND = `mutation($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!) {
  appendToSession(id: $id, io: $io, records: $records) { firstSeqNum lastSeqNum tailSeqNum } }`;
const READ = `query($id: ID!) { session(id: $id) { out { tailSeqNum records(limit: 100) { seqNum data } } in { tailSeqNum records(limit: 100) { seqNum data } } } }`;
const INIT = `mutation($id: ID!, $io: SessionIO!) { initializeSessionChannel(id: $id, io: $io) { stream basin endpoint accessToken } }`;
const RECORDS = `subscription($id: ID!, $io: SessionIO!, $from: SeqNum) { sessionRecords(id: $id, io: $io, fromSeqNum: $from) { seqNum data } }`;
const records = (...data: unknown[]) => data.map((d) => ({ data: d }));

type Double = Awaited<ReturnType<typeof startS2Double>>;

/** A client of S2 holding the stream token initializeSessionChannel handed out: its writes pass the service by. */
async function directStream(gql: Gql, id: string, io: "OUT" | "IN") {
  const r = await gql(INIT, { id, io });
  expect(r.errors).toBeUndefined();
  const access = r.data!.initializeSessionChannel;
  const s2 = new S2({ accessToken: access.accessToken, endpoints: { account: access.endpoint, basin: access.endpoint } });
  return s2.basin(access.basin).stream(access.stream, { forceTransport: "fetch" });
}

describe("S2 store: direct writes, metering, tolerant reads", () => {
  const fx = s2Fixture();

  it("takes a client's first direct write to a new session's in channel", async () => {
    const id = await createSessionId(fx.gql);
    const stream = await directStream(fx.gql, id, "IN");
    const ack = await stream.append(AppendInput.create([AppendRecord.string({ body: JSON.stringify({ text: "hello" }) })]));
    expect(ack.start.seqNum).toBe(0);
    expect((await fx.gql(READ, { id })).data!.session.in).toEqual({ tailSeqNum: 1, records: [{ seqNum: 0, data: { text: "hello" } }] });
    // Asking again (another client, a refresh) finds the stream there: nothing is lost or refused.
    const again = await directStream(fx.gql, id, "IN");
    expect((await again.append(AppendInput.create([AppendRecord.string({ body: "2" })]))).start.seqNum).toBe(1);
  });

  it("refuses appends over S2's metered 1 MiB (8 bytes a record besides its body) with PAYLOAD_TOO_LARGE, storing nothing", async () => {
    const id = await createSessionId(fx.gql);
    // 1000 records of 1042 bytes of JSON: 1,042,000 bytes of JSON, 1,050,000 metered.
    const many = Array.from({ length: 1000 }, () => "x".repeat(1040));
    const refused = await fx.gql(APPEND, { id, io: "OUT", records: records(...many) });
    expect(codes(refused)).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(refused.errors![0]!.message).toMatch(/1050000 bytes/);
    // One record of exactly 1 MiB of JSON: 8 bytes over once metered.
    const one = await fx.gql(APPEND, { id, io: "OUT", records: records("y".repeat(1024 * 1024 - 2)) });
    expect(codes(one)).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(fx.double.streams.get(`test-basin/sessions/${id}/out`) ?? []).toHaveLength(0);
    // Exactly 1 MiB metered is taken.
    const fits = await fx.gql(APPEND, { id, io: "OUT", records: records("z".repeat(1024 * 1024 - 8 - 2)) });
    expect(fits.errors).toBeUndefined();
    expect(fits.data!.appendToSession).toEqual({ firstSeqNum: 0, lastSeqNum: 0, tailSeqNum: 1 });
  });

  it("delivers a direct write that is not JSON, or a bytes record, as its text, and keeps the channel readable and its subscribers alive", async () => {
    const id = await createSessionId(fx.gql);
    await fx.gql(APPEND, { id, io: "OUT", records: records({ n: 1 }) });
    const sub = subscribe(fx.server, "ws", fx.key, RECORDS, { id, io: "OUT", from: 0 });
    await sub.waitFor(1);
    const stream = await directStream(fx.gql, id, "OUT");
    await stream.append(AppendInput.create([AppendRecord.string({ body: "not json {" })]));
    // A bytes record goes as protobuf; its body is not UTF-8.
    await stream.append(AppendInput.create([AppendRecord.bytes({ body: new Uint8Array([0xff, 0x7b, 0x00]) })]));
    await fx.gql(APPEND, { id, io: "OUT", records: records("after") });
    const seen = await sub.waitFor(4);
    expect(sub.errors).toEqual([]);
    expect(seen.map((r) => r.data)).toEqual([{ n: 1 }, "not json {", "\ufffd{\u0000", "after"]);
    const read = (await fx.gql(READ, { id })).data!.session.out;
    expect(read.records.map((r: { data: unknown }) => r.data)).toEqual([{ n: 1 }, "not json {", "\ufffd{\u0000", "after"]);
    sub.stop();
  });
});

describe("S2 store: a wrong basin", () => {
  let double: Double;
  beforeAll(async () => {
    double = await startS2Double("s2-root-token");
  });
  afterAll(() => double?.close());

  it("refuses to start, saying so in one line", async () => {
    const env = { ...(await backendEnv("pglite")), ...double.env, S2_BASIN: "wrong-basin" };
    const outcome = await startServer(env).then(
      (s) => s.close().then(() => "started"),
      (error: Error) => error.message,
    );
    expect(outcome).toMatch(/^S2_BASIN "wrong-basin": no such basin at http:\/\/127\.0\.0\.1:\d+ \(basin_not_found\)/);
    expect(outcome).not.toContain("\n");
  });

  it("is an error on reads and tails, never an empty channel", async () => {
    const server = await startServer({ ...(await backendEnv("pglite")), ...double.env });
    try {
      const store = new S2StreamStore({
        accessToken: "s2-root-token",
        basin: "wrong-basin",
        endpoints: { account: double.endpoint, basin: double.endpoint },
        sql: server.services.db.sql,
        guard: new DatabaseAppendGuard(server.services.prisma),
      });
      const channel = { sessionId: "session_x", io: "OUT" } as const;
      await expect(store.tail(channel)).rejects.toThrow(/basin/);
      await expect(store.read(channel, 0, 10)).rejects.toThrow(/basin/);
      // A stream not made yet in the right basin is an empty channel.
      expect(await server.services.store.tail(channel)).toBe(0);
      expect(await server.services.store.read(channel, 0, 10)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe("S2 endpoints", () => {
  const base = { S2_ACCESS_TOKEN: "t", S2_BASIN: "test-basin" };

  it("defaults to S2 cloud's, exactly as the SDK does, and S2_ENDPOINT stands for both", () => {
    const sdk = new S2Endpoints();
    expect(loadConfig(base).s2Endpoints).toEqual({ account: sdk.accountBaseUrl(), basin: sdk.basinBaseUrl("{basin}") });
    expect(loadConfig(base).s2Endpoints).toEqual({ account: "https://a.s2.dev/v1", basin: "https://{basin}.b.s2.dev/v1" });
    expect(loadConfig({ ...base, S2_ENDPOINT: "http://localhost:8080" }).s2Endpoints).toEqual({ account: "http://localhost:8080", basin: "http://localhost:8080" });
    const both = loadConfig({ ...base, S2_ENDPOINT: "http://x:1", S2_ACCOUNT_ENDPOINT: "https://acct.example/v1", S2_BASIN_ENDPOINT: "https://{basin}.example/v1" });
    expect(both.s2Endpoints).toEqual({ account: "https://acct.example/v1", basin: "https://{basin}.example/v1" });
  });

  it("refuses endpoints that are not http(s) URLs, and {basin} outside the basin endpoint", () => {
    expect(() => loadConfig({ ...base, S2_BASIN_ENDPOINT: "ftp://{basin}.example" })).toThrow(/S2_BASIN_ENDPOINT/);
    expect(() => loadConfig({ ...base, S2_ACCOUNT_ENDPOINT: "https://{basin}.example" })).toThrow(/S2_ACCOUNT_ENDPOINT.*\{basin\}/);
    expect(() => loadConfig({ ...base, S2_ENDPOINT: "not a url" })).toThrow(/S2_ENDPOINT/);
    expect(() => loadConfig({ ...base, S2_BASIN_ENDPOINT: "https://x.example/v1?q=1" })).toThrow(/S2_BASIN_ENDPOINT/);
  });

  it("sends account requests to the account endpoint and basin requests to the basin endpoint", async () => {
    const double = await startS2Double("s2-root-token");
    // S2_ENDPOINT leads nowhere (a closed loopback port): only the two specific endpoints may be used.
    const server = await startServer({
      ...(await backendEnv("pglite")),
      ...double.env,
      S2_ENDPOINT: "http://127.0.0.1:9",
      S2_ACCOUNT_ENDPOINT: `${double.endpoint}/account/v1`,
      S2_BASIN_ENDPOINT: `${double.endpoint}/basins/{basin}/v1`,
    });
    try {
      const { gql } = await server.newEnvironment();
      const id = await createSessionId(gql);
      expect((await gql(APPEND, { id, io: "OUT", records: records("a") })).errors).toBeUndefined();
      const init = await gql(INIT, { id, io: "OUT" });
      expect(init.data!.initializeSessionChannel.endpoint).toBe(`${double.endpoint}/basins/{basin}/v1`);
      expect(double.requests).toContain("POST /account/v1/access-tokens");
      expect(double.requests).toContain(`POST /basins/test-basin/v1/streams/${encodeURIComponent(`sessions/${id}/out`)}/records`);
      expect(double.requests.filter((r) => !r.includes(" /account/v1/") && !r.includes("/basins/test-basin/v1/"))).toEqual([]);
    } finally {
      await server.close();
      await double.close();
    }
  });
});

describe("S2 store: an idempotencyKey when S2's answer is lost", () => {
  const KEYED = `mutation($id: ID!, $records: [AppendRecordInput!]!, $match: SeqNum, $key: String) {
    appendToSession(id: $id, io: OUT, records: $records, matchSeqNum: $match, idempotencyKey: $key) { firstSeqNum lastSeqNum tailSeqNum deduplicated } }`;
  let server: TestServer;
  let gql: Gql;
  let double: Double;
  const stored = async (id: string) => (await gql(READ, { id })).data!.session.out.records.map((r: { data: unknown }) => r.data);

  beforeAll(async () => {
    double = await startS2Double("s2-root-token");
    server = await startServer({ ...(await backendEnv("pglite")), ...double.env });
    ({ gql } = await server.newEnvironment());
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  it("stores the records once: the append whose answer was lost, and its retry with the same key", async () => {
    const id = await createSessionId(gql);
    await gql(KEYED, { id, records: records("before") });
    double.loseNextAppendResponse();
    const first = await gql(KEYED, { id, records: records("once", "twice"), key: "k1" });
    const retry = await gql(KEYED, { id, records: records("once", "twice"), key: "k1" });
    expect(retry.errors).toBeUndefined();
    expect(retry.data!.appendToSession).toEqual({ firstSeqNum: 1, lastSeqNum: 2, tailSeqNum: 3, deduplicated: true });
    expect(await stored(id)).toEqual(["before", "once", "twice"]);
    expect(double.streams.get(`test-basin/sessions/${id}/out`)).toHaveLength(3);
    // The service settled the lost answer itself: the first call was answered as stored.
    expect(first.errors).toBeUndefined();
    expect(first.data!.appendToSession).toEqual({ firstSeqNum: 1, lastSeqNum: 2, tailSeqNum: 3, deduplicated: false });
  });

  it("settles a lost answer to an append with the client's matchSeqNum, and a stale matchSeqNum is still refused", async () => {
    const id = await createSessionId(gql);
    await gql(KEYED, { id, records: records("before") });
    double.loseNextAppendResponse();
    const lost = await gql(KEYED, { id, records: records("mine"), match: 1, key: "k2" });
    expect(lost.data!.appendToSession).toEqual({ firstSeqNum: 1, lastSeqNum: 1, tailSeqNum: 2, deduplicated: false });
    const stale = await gql(KEYED, { id, records: records("late"), match: 1, key: "k3" });
    expect(codes(stale)).toEqual(["SEQ_NUM_MISMATCH"]);
    expect(stale.errors![0]!.extensions).toMatchObject({ tailSeqNum: 2 });
    expect(await stored(id)).toEqual(["before", "mine"]);
  });

  it("follows a tail a direct writer moved, and carries the tag in S2's metered size", async () => {
    const id = await createSessionId(gql);
    await gql(KEYED, { id, records: records("before") });
    double.interposeBeforeNextAppend(JSON.stringify("direct"));
    const keyed = await gql(KEYED, { id, records: records("mine"), key: "k4" });
    expect(keyed.data!.appendToSession).toEqual({ firstSeqNum: 2, lastSeqNum: 2, tailSeqNum: 3, deduplicated: false });
    expect(await stored(id)).toEqual(["before", "direct", "mine"]);
    // 1 MiB metered without a key; the key's tag (56 bytes) makes it too large.
    const full = records("z".repeat(1024 * 1024 - 8 - 2));
    expect(codes(await gql(KEYED, { id, records: full, key: "k5" }))).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect((await gql(KEYED, { id, records: full })).errors).toBeUndefined();
  });
});

describe("S2 store: stream configuration (retention)", () => {
  const DAY = 24 * 3600 * 1000;
  /** What every channel stream is given: kept until trimmed, never deleted for being empty. */
  const OURS = { retention_policy: { infinite: {} }, delete_on_empty: { min_age_secs: 0 } };
  // A basin left as many are: S2's 7-day retention, and empty streams deleted after a minute.
  const basinDefaults = { delete_on_empty: { min_age_secs: 60 } };
  let server: TestServer;
  let gql: Gql;
  let double: Double;

  beforeAll(async () => {
    double = await startS2Double("s2-root-token", { defaultStreamConfig: basinDefaults });
    server = await startServer({ ...(await backendEnv("pglite")), ...double.env });
    ({ gql } = await server.newEnvironment());
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  it("creates streams, on append and on a grant, kept until trimmed and never deleted when empty", async () => {
    const id = await createSessionId(gql);
    expect((await gql(APPEND, { id, io: "OUT", records: records("a") })).errors).toBeUndefined();
    await directStream(gql, id, "IN");
    expect(double.streamConfig(`sessions/${id}/out`)).toEqual(OURS);
    expect(double.streamConfig(`sessions/${id}/in`)).toEqual(OURS);
  });

  it("keeps records past the basin's retention, and seqNums go on after a trim to the tail", async () => {
    const id = await createSessionId(gql);
    await gql(APPEND, { id, io: "OUT", records: records("a", "b") });
    double.applyRetention(Date.now() + 8 * DAY);
    expect((await gql(READ, { id })).data!.session.out).toEqual({ tailSeqNum: 2, records: [{ seqNum: 0, data: "a" }, { seqNum: 1, data: "b" }] });
    const TRIM = `mutation($id: ID!) { trimSessionChannel(id: $id, io: OUT, beforeSeqNum: 2) { headSeqNum tailSeqNum } }`;
    expect((await gql(TRIM, { id })).errors).toBeUndefined();
    double.applyRetention(Date.now() + 8 * DAY);
    // The trim command took seqNum 2: the next record is 3, never 0 in a stream made anew.
    expect((await gql(APPEND, { id, io: "OUT", records: records("c") })).data!.appendToSession).toEqual({ firstSeqNum: 3, lastSeqNum: 3, tailSeqNum: 4 });
  });

  it("tells a reader RECORDS_TRIMMED, not a silent gap, when S2's own retention removed records (a stream made before)", async () => {
    const id = await createSessionId(gql);
    await gql(APPEND, { id, io: "OUT", records: records("a", "b") });
    // The stream as an older version left it: the basin's 7 days.
    const root = new S2({ accessToken: "s2-root-token", endpoints: { account: double.endpoint, basin: double.endpoint } });
    await root.basin("test-basin").streams.reconfigure({ stream: `sessions/${id}/out`, retentionPolicy: { ageSecs: 7 * 24 * 3600 } });
    double.advanceClock(2 * DAY);
    try {
      await gql(APPEND, { id, io: "OUT", records: records("c") });
      // Eight days on from a and b, six from c.
      double.applyRetention(Date.now() + 8 * DAY);
    } finally {
      double.advanceClock(-2 * DAY);
    }
    const read = await gql(READ, { id });
    expect(codes(read)).toEqual(["RECORDS_TRIMMED"]);
    expect(read.errors![0]!.extensions).toMatchObject({ headSeqNum: 2 });
    const CHANNEL = `query($id: ID!) { session(id: $id) { out { headSeqNum records(fromSeqNum: 2) { seqNum data } } } }`;
    expect((await gql(CHANNEL, { id })).data!.session.out).toEqual({ headSeqNum: 2, records: [{ seqNum: 2, data: "c" }] });
  });

  it("sets its configuration on a stream the basin made itself (create_stream_on_append)", async () => {
    const auto = await startS2Double("s2-root-token", { defaultStreamConfig: basinDefaults, createStreamOnAppend: true });
    const other = await startServer({ ...(await backendEnv("pglite")), ...auto.env });
    try {
      const { gql: g } = await other.newEnvironment();
      const id = await createSessionId(g);
      expect((await g(APPEND, { id, io: "OUT", records: records("a") })).errors).toBeUndefined();
      // The append alone made the stream: no create was asked for.
      expect(auto.requests.filter((r) => /^POST .*\/streams$/.test(r))).toEqual([]);
      expect(auto.streamConfig(`sessions/${id}/out`)).toEqual(OURS);
    } finally {
      await other.close();
      await auto.close();
    }
  });
});
