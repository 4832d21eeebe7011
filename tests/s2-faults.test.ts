import { AppendInput, AppendRecord, S2, S2Error } from "@s2-dev/streamstore";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backendEnv } from "./helpers/backends.js";
import { subscribe } from "./helpers/clients.js";
import { startS2Double } from "./helpers/s2-double.js";
import { s2Fixture } from "./helpers/s2-fixture.js";
import { codes, createSessionId, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * What S2 does that a happy path never shows, through the double held to S2's API (issue #18):
 * scoped stream tokens, throttling answers (429 rate_limited, 502 hot_server), 416 at the tail,
 * read sessions ended by an SSE error event or a dropped connection. Each test fails if the double
 * stops enforcing the rule or the service stops coping with it.
 */

const APPEND = `mutation($id: ID!, $records: [AppendRecordInput!]!, $key: String) {
  appendToSession(id: $id, io: OUT, records: $records, idempotencyKey: $key) { firstSeqNum lastSeqNum tailSeqNum } }`;
const READ = `query($id: ID!, $from: SeqNum) { session(id: $id) { out { tailSeqNum records(fromSeqNum: $from, limit: 100) { seqNum data } } } }`;
const INIT = `mutation($id: ID!, $io: SessionIO!) { initializeSessionChannel(id: $id, io: $io) { stream basin endpoint accessToken expiresAt } }`;
const RECORDS = `subscription($id: ID!, $from: SeqNum) { sessionRecords(id: $id, io: OUT, fromSeqNum: $from) { seqNum data } }`;
const records = (...data: unknown[]) => data.map((d) => ({ data: d }));
const MINUTE = 60_000;

type Double = Awaited<ReturnType<typeof startS2Double>>;

/** What S2 answered a client's request: "ok", or the status and code it refused with. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: unknown) => (e instanceof S2Error ? `${e.status} ${e.code}` : String(e)),
  );

describe("S2 stream tokens: scope and expiry", () => {
  const rootExpiresAt = Date.now() + 30 * MINUTE;
  let server: TestServer;
  let gql: Gql;
  let double: Double;

  beforeAll(async () => {
    // The service's own token expires in half an hour: no token it issues may live longer.
    double = await startS2Double("s2-root-token", { rootExpiresAt });
    server = await startServer({ ...(await backendEnv("pglite")), ...double.env });
    ({ gql } = await server.newEnvironment());
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  /** A client of S2 with the token initializeSessionChannel handed out, able to name any stream. */
  async function client(id: string) {
    const access = (await gql(INIT, { id, io: "IN" })).data!.initializeSessionChannel;
    const s2 = new S2({ accessToken: access.accessToken, endpoints: { account: access.endpoint, basin: access.endpoint }, retry: { maxAttempts: 1 } });
    return { access, basin: s2.basin(access.basin), s2 };
  }
  const one = (body: string) => AppendInput.create([AppendRecord.string({ body })]);

  it("reaches its own stream only, with the operations it was given", async () => {
    const id = await createSessionId(gql);
    const other = await createSessionId(gql);
    await gql(APPEND, { id: other, records: records("theirs") });
    const { access, basin } = await client(id);
    const own = basin.stream(access.stream, { forceTransport: "fetch" });
    expect(await outcome(own.append(one("mine")))).toBe("ok");
    // Another session's channels, this session's other channel, and a name sharing its prefix.
    for (const name of [`sessions/${other}/out`, `sessions/${other}/in`, `sessions/${id}/out`, `${access.stream}x`]) {
      expect(await outcome(basin.stream(name, { forceTransport: "fetch" }).append(one("forged")))).toBe("403 permission_denied");
      expect(await outcome(basin.stream(name, { forceTransport: "fetch" }).read({ start: { from: { seqNum: 0 } } }))).toBe("403 permission_denied");
    }
    // Nor trim, delete or make streams, nor issue tokens of its own.
    expect(await outcome(own.append(AppendInput.create([AppendRecord.trim(1)])))).toBe("403 permission_denied");
    expect(await outcome(basin.streams.delete({ stream: access.stream }))).toBe("403 permission_denied");
    expect(await outcome(basin.streams.create({ stream: `sessions/${id}/extra` }))).toBe("403 permission_denied");
    const { s2 } = await client(id);
    expect(await outcome(s2.accessTokens.issue({ id: `escalate-${id}`, scope: { basins: { prefix: "" }, streams: { prefix: "" }, ops: ["append"] } }))).toBe("403 permission_denied");
    expect((await gql(READ, { id: other })).data!.session.out.records).toEqual([{ seqNum: 0, data: "theirs" }]);
  });

  it("cannot outlive the service's own token", async () => {
    const id = await createSessionId(gql);
    const { access, basin } = await client(id);
    const token = double.issued.find((t) => t.token === access.accessToken)!;
    expect(Date.parse(token.expires_at!)).toBeLessThanOrEqual(rootExpiresAt);
    // The service asked for an hour (its default) and tells the client what S2 gave: half an hour.
    expect(Date.parse(access.expiresAt)).toBe(Date.parse(token.expires_at!));
    const own = basin.stream(access.stream, { forceTransport: "fetch" });
    expect(await outcome(own.append(one("before")))).toBe("ok");
    double.advanceClock(rootExpiresAt - Date.now() + MINUTE);
    try {
      expect(await outcome(own.append(one("after")))).toBe("403 permission_denied");
    } finally {
      double.advanceClock(-(rootExpiresAt - Date.now() + MINUTE));
    }
  });
});

describe("S2 answers the service copes with", () => {
  const fx = s2Fixture();
  const stored = async (id: string) => (await fx.gql(READ, { id })).data!.session.out.records.map((r: { data: unknown }) => r.data);

  it("retries appends S2 throttled (429 rate_limited, 502 hot_server), storing each once", async () => {
    const id = await createSessionId(fx.gql);
    fx.double.throttle("rate_limited", 1, "Append");
    fx.double.throttle("hot_server", 1, "Append");
    const r = await fx.gql(APPEND, { id, records: records("once") });
    expect(r.errors).toBeUndefined();
    expect(r.data!.appendToSession).toEqual({ firstSeqNum: 0, lastSeqNum: 0, tailSeqNum: 1 });
    expect(await stored(id)).toEqual(["once"]);
  });

  it("answers RATE_LIMITED, having stored nothing, when S2 stays busy; the client's retry is stored once", async () => {
    const id = await createSessionId(fx.gql);
    await fx.gql(APPEND, { id, records: records("before") });
    // More than the SDK's three attempts.
    fx.double.throttle("hot_server", 10, "Append");
    const busy = await fx.gql(APPEND, { id, records: records("mine"), key: "busy-1" });
    expect(codes(busy)).toEqual(["RATE_LIMITED"]);
    fx.double.unthrottle();
    fx.double.throttle("rate_limited", 10, "Append");
    expect(codes(await fx.gql(APPEND, { id, records: records("mine") }))).toEqual(["RATE_LIMITED"]);
    fx.double.unthrottle();
    expect(await stored(id)).toEqual(["before"]);
    const retry = await fx.gql(APPEND, { id, records: records("mine"), key: "busy-1" });
    expect(retry.data!.appendToSession).toEqual({ firstSeqNum: 1, lastSeqNum: 1, tailSeqNum: 2 });
    expect(await stored(id)).toEqual(["before", "mine"]);
  });

  it("tells the client an append's outcome is unknown when S2's answer to it (without a key) is lost, and sends it once", async () => {
    const id = await createSessionId(fx.gql);
    fx.double.loseNextAppendResponse();
    const lost = await fx.gql(APPEND, { id, records: records("maybe") });
    expect(codes(lost)).toEqual(["INTERNAL_SERVER_ERROR"]);
    expect(lost.errors![0]!.message).toMatch(/may or may not be stored.*idempotencyKey/);
    expect(await stored(id)).toEqual(["maybe"]);
  });

  it("stores a keyed append once and says so when its answer was lost and S2 then stays busy (never 'nothing was done' for a stored append)", async () => {
    const id = await createSessionId(fx.gql);
    // The first try is stored and its answer lost; every try after it finds S2 busy.
    fx.double.loseNextAppendResponse(() => fx.double.throttle("hot_server", 10, "Append"));
    const r = await fx.gql(APPEND, { id, records: records("stored"), key: "lost-then-busy" });
    fx.double.unthrottle();
    expect(r.errors).toBeUndefined();
    expect(r.data!.appendToSession).toMatchObject({ firstSeqNum: 0, lastSeqNum: 0 });
    const again = await fx.gql(APPEND, { id, records: records("stored"), key: "lost-then-busy" });
    expect(again.data!.appendToSession).toMatchObject({ firstSeqNum: 0, lastSeqNum: 0 });
    expect(await stored(id)).toEqual(["stored"]);
  });

  it("answers RATE_LIMITED to a read S2 keeps throttling, and reads at the tail (S2's 416) as no records", async () => {
    const id = await createSessionId(fx.gql);
    await fx.gql(APPEND, { id, records: records("a", "b") });
    fx.double.throttle("rate_limited", 10, "Read");
    expect(codes(await fx.gql(READ, { id }))).toEqual(["RATE_LIMITED"]);
    fx.double.unthrottle();
    const at = fx.double.requests.length;
    for (const from of [2, 5]) expect((await fx.gql(READ, { id, from })).data!.session.out).toEqual({ tailSeqNum: 2, records: [] });
    // S2 was asked (and answered 416), or the service knew the tail: either way no error.
    expect(fx.double.violations).toEqual([]);
    expect(fx.double.requests.length).toBeGreaterThan(at);
  });

  it("keeps subscribers going when S2 ends a read session with an error event or drops it", async () => {
    const id = await createSessionId(fx.gql);
    await fx.gql(APPEND, { id, records: records(0) });
    const sub = subscribe(fx.server, "ws", fx.key, RECORDS, { id, from: 0 });
    await sub.waitFor(1);
    // The first record is read before the subscription follows S2; its read session opens after.
    await vi.waitFor(() => expect(fx.double.readSessions()).toBeGreaterThan(0));
    fx.double.sendReadSessionError();
    await fx.gql(APPEND, { id, records: records(1) });
    await sub.waitFor(2);
    fx.double.dropReadSessions();
    await fx.gql(APPEND, { id, records: records(2) });
    const seen = await sub.waitFor(3);
    expect(sub.errors).toEqual([]);
    expect(seen.map((r) => r.seqNum)).toEqual([0, 1, 2]);
    sub.stop();
  });
});
