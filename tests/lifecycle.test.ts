import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RecordsTrimmedError, SessionsClient } from "../client/src/sessions-client.js";
import { subscribe, transports, type Received } from "./helpers/clients.js";
import { startS2Double } from "./helpers/s2-double.js";
import { codes, gqlClient, startServer, type Gql, type GraphQLResponse, type TestServer } from "./helpers/test-server.js";

/**
 * The data lifecycle (issue #15) through the API, on the local store and on S2 (the SDK against the
 * S2 double): trimSessionChannel and what readers see below and at the head, on every transport;
 * trims racing appends and a live subscriber; deleteSession with subscriptions open, then the
 * externalId used again; retention by a sweeper running every second.
 */

const CREATE = `mutation($input: CreateSessionInput!) { createSession(input: $input) { isCached session { id externalId } } }`;
const APPEND = `mutation($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $key: String) {
  appendToSession(id: $id, io: $io, records: $records, idempotencyKey: $key) { firstSeqNum lastSeqNum tailSeqNum } }`;
const TRIM = `mutation($id: ID!, $io: SessionIO!, $before: SeqNum!) { trimSessionChannel(id: $id, io: $io, beforeSeqNum: $before) { io headSeqNum tailSeqNum } }`;
const DELETE = `mutation($id: ID!) { deleteSession(id: $id) { id deleted } }`;
const CHANNEL = `query($id: ID!) { session(id: $id) { out { headSeqNum tailSeqNum } in { headSeqNum tailSeqNum } } }`;
const READ = `query($id: ID!, $from: SeqNum) { session(id: $id) { out { records(fromSeqNum: $from, limit: 1000) { seqNum data } } } }`;
const READ_DEFAULT = `query($id: ID!) { session(id: $id) { out { records { seqNum } } } }`;
const RECORDS = `subscription($id: ID!, $io: SessionIO!, $from: SeqNum) { sessionRecords(id: $id, io: $io, fromSeqNum: $from) { seqNum data } }`;
const CHANGED = `subscription($id: ID!) { sessionChanged(id: $id) { id status } }`;
const WAITPOINT = `mutation($session: ID!) { createSessionWaitpoint(input: { session: $session, io: IN }) { waitpoint { id status } } }`;
const WAITPOINT_CHANGED = `subscription($id: ID!) { waitpointChanged(id: $id) { id status } }`;
const MINT = `mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`;

const seqs = (items: { seqNum: number }[]) => items.map((r) => r.seqNum);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const extensionsOf = (r: GraphQLResponse) => (r.errors ?? []).map((e) => e.extensions as Record<string, unknown>);
const endErrors = async (sub: Received<unknown>) => {
  await sub.done;
  return sub.errors.map((e) => (e as { extensions?: Record<string, unknown> }).extensions);
};

interface Backend {
  name: string;
  /** A trim takes a seqNum of its own (S2's command record), see the store conformance suite. */
  trimTakesSeqNum: boolean;
  start(extra?: Record<string, string>): Promise<{
    server: TestServer;
    close(): Promise<void>;
    /** S2: the streams the double holds. */
    streams?(): string[];
    /** S2: where the double's copy of a session's `out` stream begins, after the trim commands it was sent. */
    s2TrimmedBefore?(sessionId: string): number | undefined;
  }>;
}

const backends: Backend[] = [
  {
    name: "local store",
    trimTakesSeqNum: false,
    async start(extra = {}) {
      const server = await startServer("pglite", extra);
      return { server, close: () => server.close() };
    },
  },
  {
    name: "S2 (double)",
    trimTakesSeqNum: true,
    async start(extra = {}) {
      const double = await startS2Double("s2-root-token");
      const server = await startServer("pglite", { ...double.env, ...extra });
      return {
        server,
        streams: () => [...double.streams.keys()],
        s2TrimmedBefore: (sessionId) =>
          ([...double.streams].find(([name]) => name.endsWith(`/sessions/${sessionId}/out`))?.[1] as { trimmedBefore?: number } | undefined)?.trimmedBefore,
        async close() {
          await server.close();
          await double.close();
        },
      };
    },
  },
];

describe.each(backends)("data lifecycle on the $name", (backend) => {
  let running: Awaited<ReturnType<Backend["start"]>>;
  let server: TestServer;
  let gql: Gql;
  let key: string;
  const trimCost = backend.trimTakesSeqNum ? 1 : 0;

  beforeAll(async () => {
    running = await backend.start();
    server = running.server;
    const env = await server.newEnvironment();
    gql = env.gql;
    key = env.secretKey;
  }, 60_000);
  afterAll(() => running?.close());

  const create = async (input: Record<string, unknown> = {}) => {
    const r = await gql(CREATE, { input: { type: "lifecycle", ...input } });
    expect(r.errors).toBeUndefined();
    return r.data!.createSession.session.id as string;
  };
  const append = async (id: string, data: unknown[], io = "OUT", idempotencyKey?: string) => {
    const r = await gql(APPEND, { id, io, records: data.map((d) => ({ data: d })), key: idempotencyKey });
    expect(r.errors).toBeUndefined();
    return r.data!.appendToSession as { firstSeqNum: number; lastSeqNum: number; tailSeqNum: number };
  };
  const trim = async (id: string, before: number, io = "OUT") => {
    const r = await gql(TRIM, { id, io, before });
    expect(r.errors).toBeUndefined();
    return r.data!.trimSessionChannel as { io: string; headSeqNum: number; tailSeqNum: number };
  };
  const channels = async (id: string) => (await gql(CHANNEL, { id })).data!.session;

  it("trim moves the head (never back, never past the tail); reads below it fail with RECORDS_TRIMMED and the head, from it they go on", async () => {
    const id = await create();
    await append(id, range(0, 10));
    expect(await channels(id)).toEqual({ out: { headSeqNum: 0, tailSeqNum: 10 }, in: { headSeqNum: 0, tailSeqNum: 0 } });
    expect(await trim(id, 4)).toEqual({ io: "OUT", headSeqNum: 4, tailSeqNum: 10 + trimCost });
    for (const from of [0, 3]) {
      const r = await gql(READ, { id, from });
      expect(codes(r)).toEqual(["RECORDS_TRIMMED"]);
      expect(extensionsOf(r)[0]).toMatchObject({ code: "RECORDS_TRIMMED", headSeqNum: 4 });
    }
    // fromSeqNum's default is 0: below the head too.
    expect(extensionsOf(await gql(READ_DEFAULT, { id }))[0]).toMatchObject({ code: "RECORDS_TRIMMED", headSeqNum: 4 });
    expect(seqs((await gql(READ, { id, from: 4 })).data!.session.out.records)).toEqual(range(4, 10));
    // On S2 the records are removed by S2 itself, told by a trim command record.
    if (running.s2TrimmedBefore) expect(running.s2TrimmedBefore(id)).toBe(4);
    // Never back; the other channel is untouched.
    expect((await trim(id, 1)).headSeqNum).toBe(4);
    expect((await channels(id)).in).toEqual({ headSeqNum: 0, tailSeqNum: 0 });
    // Never past the tail, and seqNums are not reused after it.
    const tail = 10 + trimCost;
    const emptied = await trim(id, 1_000);
    expect(emptied).toEqual({ io: "OUT", headSeqNum: tail, tailSeqNum: tail + trimCost });
    expect((await gql(READ, { id, from: tail })).data!.session.out.records).toEqual([]);
    expect((await append(id, ["next"])).firstSeqNum).toBe(tail + trimCost);
  });

  it("refuses a trim without write scope, and a bad beforeSeqNum", async () => {
    const id = await create({ externalId: `trim-scope-${backend.trimTakesSeqNum}` });
    await append(id, [1, 2]);
    const token = (await gql(MINT, { s: [`read:sessions:trim-scope-${backend.trimTakesSeqNum}`] })).data!.createPublicAccessToken.token;
    expect(codes(await gqlClient(server.url, token)(TRIM, { id, io: "OUT", before: 1 }))).toEqual(["FORBIDDEN"]);
    expect(codes(await gql(TRIM, { id, io: "OUT", before: -1 }))).toEqual(["BAD_USER_INPUT"]);
    expect((await channels(id)).out.headSeqNum).toBe(0);
  });

  describe.each(transports)("over %s", (transport) => {
    it("a subscription from below the head fails with RECORDS_TRIMMED and the head; from the head it replays, then follows", async () => {
      const id = await create();
      await append(id, range(0, 6));
      await trim(id, 3);
      const below = subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: 1 });
      expect(await endErrors(below)).toEqual([expect.objectContaining({ code: "RECORDS_TRIMMED", headSeqNum: 3 })]);
      expect(below.items).toEqual([]);
      const at = subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: 3 });
      expect(seqs(await at.waitFor(3))).toEqual([3, 4, 5]);
      const next = await append(id, ["live"]);
      const got = await at.waitFor(4);
      expect(got.at(-1)).toEqual({ seqNum: next.firstSeqNum, data: "live" });
      expect(at.errors).toEqual([]);
      at.stop();
    });
  });

  it("trims racing appends leave a live subscriber undisturbed: every record once, in order, nothing lost above the head", async () => {
    const id = await create();
    await append(id, ["seed"]);
    const live = subscribe(server, "ws", key, RECORDS, { id, io: "OUT", from: 0 });
    await live.waitFor(1);
    await server.liveSubscribers({ sessionId: id, io: "OUT" });
    const acked: { seqNum: number; data: string }[] = [{ seqNum: 0, data: "seed" }];
    const finished: string[] = [];
    let appended: () => void = () => {};
    const nextAppend = () => new Promise<void>((resolve) => (appended = resolve));
    let trimsDone = false;
    const appends = (async () => {
      for (let round = 0; round < 10 || !trimsDone; round++) {
        await Promise.all(
          [0, 1].map(async (j) => {
            const data = `r${round}-${j}`;
            const ack = await append(id, [data]);
            acked.push({ seqNum: ack.firstSeqNum, data });
            finished.push("a");
            appended();
          }),
        );
      }
    })();
    const heads: number[] = [];
    const trims = (async () => {
      for (let k = 0; k < 8; k++) {
        // Each trim waits for another append to finish, with more in flight: they interleave.
        await nextAppend();
        const { tailSeqNum } = (await channels(id)).out;
        heads.push((await trim(id, Math.max(0, tailSeqNum - 2))).headSeqNum);
        finished.push("t");
      }
      trimsDone = true;
    })();
    await Promise.all([appends, trims]);
    const order = finished.join("");
    expect(order.slice(order.indexOf("t"), order.lastIndexOf("t"))).toContain("a");
    expect([...heads].sort((a, b) => a - b)).toEqual(heads);
    acked.sort((a, b) => a.seqNum - b.seqNum);
    // The live subscriber, past the head all along, got every record once, in order, and no error.
    const got = await live.waitFor(acked.length);
    expect(got).toEqual(acked);
    expect(live.errors).toEqual([]);
    // A new reader from the head gets exactly what is above it.
    const { headSeqNum } = (await channels(id)).out;
    expect((await gql(READ, { id, from: headSeqNum })).data!.session.out.records).toEqual(acked.filter((r) => r.seqNum >= headSeqNum));
    live.stop();
  });

  it("follow() in the typed client: a RecordsTrimmedError, or with onTrimmed the gap reported and following from the head", async () => {
    const id = await create();
    await append(id, range(0, 5));
    await trim(id, 2);
    for (const transport of ["sse", "ws"] as const) {
      const client = new SessionsClient({ url: server.url, token: key, transport, webSocketImpl: WebSocket });
      try {
        const strict = client.follow(id, "OUT", { fromSeqNum: 0 });
        const failure = await strict.next().catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(RecordsTrimmedError);
        expect(failure).toMatchObject({ code: "RECORDS_TRIMMED", headSeqNum: 2 });
        const gaps: unknown[] = [];
        const abort = new AbortController();
        const got: number[] = [];
        for await (const record of client.follow(id, "OUT", { fromSeqNum: 0, signal: abort.signal, onTrimmed: (gap) => gaps.push(gap) })) {
          got.push(record.seqNum);
          if (got.length === 3) abort.abort();
        }
        expect(gaps).toEqual([{ fromSeqNum: 0, headSeqNum: 2 }]);
        expect(got).toEqual([2, 3, 4]);
      } finally {
        await client.close();
      }
    }
  });

  it("deleteSession ends open subscriptions on every transport with NOT_FOUND, removes everything, is idempotent, and frees the externalId", async () => {
    const name = `delete-me-${backend.trimTakesSeqNum}`;
    const id = await create({ externalId: name, tags: ["doomed"] });
    await append(id, ["a", "b"]);
    await append(id, ["q"], "IN", "key-1");
    const waitpoint = (await gql(WAITPOINT, { session: id })).data!.createSessionWaitpoint.waitpoint.id as string;
    const token = (await gql(MINT, { s: [`read:sessions:${name}`] })).data!.createPublicAccessToken.token as string;
    const subs = transports.flatMap((transport) => [
      subscribe(server, transport, key, RECORDS, { id, io: "OUT", from: 0 }),
      subscribe(server, transport, token, RECORDS, { id: name, io: "OUT", from: 0 }),
      subscribe(server, transport, key, CHANGED, { id }),
    ]);
    const waiting = subscribe(server, "ws", key, WAITPOINT_CHANGED, { id: waitpoint });
    await Promise.all([...subs.map((s) => s.waitFor(1)), waiting.waitFor(1)]);

    expect((await gql(DELETE, { id: name })).data!.deleteSession).toEqual({ id, deleted: true });
    for (const sub of [...subs, waiting]) expect((await endErrors(sub)).map((e) => e?.code)).toEqual(["NOT_FOUND"]);
    // Idempotent: by id or name, nothing is left to delete.
    expect((await gql(DELETE, { id })).data!.deleteSession).toEqual({ id, deleted: false });
    expect((await gql(DELETE, { id: name })).data!.deleteSession).toEqual({ id: name, deleted: false });
    expect((await gql(`query($id: ID!) { session(id: $id) { id } }`, { id })).data!.session).toBeNull();
    expect((await gql(`query($id: ID!) { waitpoint(id: $id) { id } }`, { id: waitpoint })).data!.waitpoint).toBeNull();
    expect(codes(await gql(APPEND, { id, io: "OUT", records: [{ data: 1 }] }))).toEqual(["NOT_FOUND"]);
    const { sql } = server.services.db;
    for (const table of ["channel_records", "channels", "append_keys", "waitpoints", "session_purges"]) {
      expect(await sql.query(`SELECT 1 FROM ${table} WHERE session_id = $1`, [id]), table).toEqual([]);
    }
    if (running.streams) expect(running.streams().filter((s) => s.includes(id))).toEqual([]);

    // The name is free again: a new session, empty channels, the old one's records nowhere.
    const again = await gql(CREATE, { input: { type: "lifecycle", externalId: name } });
    expect(again.data!.createSession.isCached).toBe(false);
    const reborn = again.data!.createSession.session.id as string;
    expect(reborn).not.toBe(id);
    expect(await channels(name)).toEqual({ out: { headSeqNum: 0, tailSeqNum: 0 }, in: { headSeqNum: 0, tailSeqNum: 0 } });
    expect((await append(name, ["fresh"], "IN", "key-1")).firstSeqNum).toBe(0);
  });

  it("deleteSession needs admin: a read or write token cannot, and an unknown session answers deleted false", async () => {
    const name = `delete-scope-${backend.trimTakesSeqNum}`;
    const id = await create({ externalId: name });
    const writer = gqlClient(server.url, (await gql(MINT, { s: [`write:sessions:${name}`] })).data!.createPublicAccessToken.token);
    expect(codes(await writer(DELETE, { id }))).toEqual(["FORBIDDEN"]);
    const admin = gqlClient(server.url, (await gql(MINT, { s: [`admin:sessions:${name}`] })).data!.createPublicAccessToken.token);
    expect((await admin(DELETE, { id: name })).data!.deleteSession).toEqual({ id, deleted: true });
    expect((await gql(DELETE, { id: "session_00000000000000000000" })).data!.deleteSession).toEqual({ id: "session_00000000000000000000", deleted: false });
  });

  it("a waitpoint after a trimmed seqNum completes with the first record still stored, and the channel's other waitpoints still wake", async () => {
    const id = await create();
    await append(id, ["i0", "i1", "i2"], "IN");
    await trim(id, 2, "IN");
    const CREATE_AFTER = `mutation($session: ID!, $after: SeqNum) { createSessionWaitpoint(input: { session: $session, io: IN, afterSeqNum: $after }) {
      waitpoint { id status record { seqNum data } } } }`;
    const early = await gql(CREATE_AFTER, { session: id, after: 0 });
    expect(early.errors).toBeUndefined();
    expect(early.data!.createSessionWaitpoint.waitpoint).toMatchObject({ status: "COMPLETED", record: { seqNum: 2, data: "i2" } });
    // One waiting from below the head (set by hand: no trim passes a pending waitpoint's seqNum)
    // and one for the next record: an append wakes both, the first with the head's record.
    const below = (await gql(CREATE_AFTER, { session: id })).data!.createSessionWaitpoint.waitpoint.id as string;
    await server.services.db.sql.query(`UPDATE waitpoints SET after_seq_num = 0 WHERE id = $1`, [below]);
    const next = (await gql(CREATE_AFTER, { session: id })).data!.createSessionWaitpoint.waitpoint.id as string;
    const late = await append(id, ["i-next"], "IN");
    const status = async (wid: string) => (await gql(`query($id: ID!) { waitpoint(id: $id) { status record { seqNum } } }`, { id: wid })).data!.waitpoint;
    await vi.waitFor(async () => expect(await status(next)).toEqual({ status: "COMPLETED", record: { seqNum: late.firstSeqNum } }), { timeout: 10_000 });
    expect(await status(below)).toEqual({ status: "COMPLETED", record: { seqNum: 2 } });
  });

  it("recordRetention takes a duration up to the limit; anything else is BAD_USER_INPUT", async () => {
    expect((await gql(CREATE, { input: { type: "t", recordRetention: "30d" } })).errors).toBeUndefined();
    for (const bad of ["soon", "0s", "3651d"]) expect(codes(await gql(CREATE, { input: { type: "t", recordRetention: bad } }))).toEqual(["BAD_USER_INPUT"]);
  });
});

describe.each(backends)("retention on the $name, swept every second", (backend) => {
  let running: Awaited<ReturnType<Backend["start"]>>;
  let server: TestServer;
  let gql: Gql;

  beforeAll(async () => {
    running = await backend.start({ RETENTION_SWEEP_INTERVAL: "1s", SESSION_RETENTION: "1s", RECORD_RETENTION: "1s" });
    server = running.server;
    gql = (await server.newEnvironment()).gql;
  }, 60_000);
  afterAll(() => running?.close());

  const create = async (input: Record<string, unknown> = {}) => (await gql(CREATE, { input: { type: "retention", ...input } })).data!.createSession.session.id as string;
  const append = (id: string, data: unknown[]) => gql(APPEND, { id, io: "OUT", records: data.map((d) => ({ data: d })) });
  const out = async (id: string) => (await gql(CHANNEL, { id })).data!.session?.out as { headSeqNum: number; tailSeqNum: number } | undefined;

  it("trims records older than the retention (RECORD_RETENTION, or the session's own), and deletes sessions closed or expired longer ago than SESSION_RETENTION", async () => {
    const byDefault = await create();
    const ownLong = await create({ recordRetention: "1h" });
    const closed = await create({ externalId: `closed-${backend.trimTakesSeqNum}` });
    const expiring = await create({ ttl: "1s" });
    const open = await create();
    for (const id of [byDefault, ownLong, open]) await append(id, ["old-0", "old-1"]);
    await gql(`mutation($id: ID!) { closeSession(id: $id) { id } }`, { id: closed });

    // The sweeper trims the default-retention channels to their tail once their records are a second old.
    await vi.waitFor(async () => expect((await out(byDefault))!.headSeqNum).toBeGreaterThanOrEqual(2), { timeout: 30_000, interval: 200 });
    expect(codes(await gql(READ, { id: byDefault, from: 0 }))).toEqual(["RECORDS_TRIMMED"]);
    // A session with its own, longer retention keeps its records.
    expect(await out(ownLong)).toEqual({ headSeqNum: 0, tailSeqNum: 2 });
    // Closed, and expired: gone a second after; open: kept (its records trimmed like any).
    await vi.waitFor(async () => {
      for (const id of [closed, expiring]) expect((await gql(`query($id: ID!) { session(id: $id) { id } }`, { id })).data!.session).toBeNull();
    }, { timeout: 30_000, interval: 200 });
    expect(await out(open)).toBeDefined();
    // Records younger than the retention stay until they are older.
    const fresh = (await append(byDefault, ["new"])).data!.appendToSession.firstSeqNum as number;
    expect(seqs((await gql(READ, { id: byDefault, from: fresh })).data!.session.out.records)).toEqual([fresh]);
    await vi.waitFor(async () => expect((await out(byDefault))!.headSeqNum).toBeGreaterThan(fresh), { timeout: 30_000, interval: 200 });

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/sessions_records_trimmed_total\{cause="retention"\} [1-9]/);
    expect(metrics).toMatch(/sessions_deleted_total\{cause="retention"\} [1-9]/);
    expect(metrics).toMatch(/sessions_sweep_duration_seconds_count [1-9]/);
  });
});
