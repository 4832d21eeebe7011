import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backendEnv } from "./helpers/backends.js";
import type { Prepared } from "../src/db/database.js";
import { encodeRecords } from "../src/channels/channel-writer.js";
import { LocalStreamStore } from "../src/channels/local-stream-store.js";
import { startS2Double } from "./helpers/s2-double.js";
import { codes, createSessionId, startServer, type Gql, type TestServer } from "./helpers/test-server.js";

const APPEND = `mutation($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $match: SeqNum, $key: String) {
  appendToSession(id: $id, io: $io, records: $records, matchSeqNum: $match, idempotencyKey: $key) {
    firstSeqNum lastSeqNum tailSeqNum deduplicated } }`;
const READ = `query($id: ID!, $from: SeqNum, $limit: Int) { session(id: $id) {
  out { io tailSeqNum records(fromSeqNum: $from, limit: $limit) { seqNum timestamp data } }
  in { io tailSeqNum records(fromSeqNum: $from, limit: $limit) { seqNum data } } } }`;

/** The same contract-level suite on every stream store. */
const stores = [
  { name: "local store on PGlite", backend: "pglite", s2: false },
  { name: "local store on PostgreSQL", backend: "postgres", s2: false },
  { name: "S2 (SDK against the S2 double) with PostgreSQL", backend: "postgres", s2: true },
] as const;

describe.each(stores)("channels: $name", ({ backend, s2 }) => {
  let server: TestServer;
  let gql: Gql;
  let double: Awaited<ReturnType<typeof startS2Double>> | undefined;
  const newSession = () => createSessionId(gql);
  const records = (...data: unknown[]) => data.map((d) => ({ data: d }));

  beforeAll(async () => {
    double = s2 ? await startS2Double("s2-root-token") : undefined;
    server = await startServer({ ...(await backendEnv(backend)), ...double?.env });
    gql = (await server.newEnvironment()).gql;
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  it("appends batches in order with dense seqNums per channel, and reads from any seqNum", async () => {
    const id = await newSession();
    const a = await gql(APPEND, { id, io: "OUT", records: records({ t: "a" }, [1, 2], "c") });
    expect(a.data!.appendToSession).toEqual({ firstSeqNum: 0, lastSeqNum: 2, tailSeqNum: 3, deduplicated: false });
    const b = await gql(APPEND, { id, io: "OUT", records: records(4.5, false) });
    expect(b.data!.appendToSession).toMatchObject({ firstSeqNum: 3, lastSeqNum: 4, tailSeqNum: 5 });
    const c = await gql(APPEND, { id, io: "IN", records: records("first in") });
    expect(c.data!.appendToSession).toMatchObject({ firstSeqNum: 0, tailSeqNum: 1 });

    const all = (await gql(READ, { id })).data!.session;
    expect(all.out.tailSeqNum).toBe(5);
    expect(all.out.records.map((r: any) => [r.seqNum, r.data])).toEqual([[0, { t: "a" }], [1, [1, 2]], [2, "c"], [3, 4.5], [4, false]]);
    expect(all.out.records[0].timestamp).toMatch(/Z$/);
    expect(all.in).toMatchObject({ io: "IN", tailSeqNum: 1, records: [{ seqNum: 0, data: "first in" }] });
    const page = (await gql(READ, { id, from: 2, limit: 2 })).data!.session.out.records;
    expect(page.map((r: any) => r.seqNum)).toEqual([2, 3]);
    expect((await gql(READ, { id, from: 99 })).data!.session.out.records).toEqual([]);
  });

  it("keeps concurrent appends atomic and gap-free", async () => {
    const id = await newSession();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gql(APPEND, { id, io: "IN", records: records(`${i}-a`, `${i}-b`, `${i}-c`) })),
    );
    const acks = results.map((r) => r.data!.appendToSession).sort((x, y) => x.firstSeqNum - y.firstSeqNum);
    acks.forEach((ack, i) => expect(ack).toMatchObject({ firstSeqNum: i * 3, lastSeqNum: i * 3 + 2 }));
    const stored = (await gql(READ, { id, limit: 1000 })).data!.session.in.records;
    expect(stored).toHaveLength(60);
    for (let i = 0; i < 60; i += 3) {
      const prefix = String(stored[i].data).split("-")[0];
      expect(stored.slice(i, i + 3).map((r: any) => r.data)).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
    }
  });

  it("answers each append of a concurrent mixed burst on its own, as if it came alone", async () => {
    const ext = `burst-${Math.random().toString(36).slice(2)}`;
    await gql(`mutation($e: String!) { createSession(input: { type: "chat", externalId: $e }) { session { id } } }`, { e: ext });
    const [a, b, closed] = await Promise.all([newSession(), newSession(), newSession()]);
    await gql(APPEND, { id: closed, io: "OUT", records: records("last") });
    await gql(`mutation($id: ID!) { closeSession(id: $id) { status } }`, { id: closed });
    await gql(APPEND, { id: b, io: "OUT", records: records("first") });
    const burst = [
      ...Array.from({ length: 12 }, (_, i) => ({ id: a, io: "OUT", records: records(`a${i}`) })),
      ...Array.from({ length: 6 }, (_, i) => ({ id: ext, io: i % 2 ? "IN" : "OUT", records: records(`e${i}`, `e${i}'`) })),
      { id: b, io: "OUT", records: records("stale"), match: 0 },
      { id: b, io: "OUT", records: records("fits"), match: 1 },
      { id: closed, io: "OUT", records: records("late") },
      { id: "no-such-session", io: "OUT", records: records("lost") },
      { id: a, io: "IN", records: records({ text: "nul \u0000 here" }) },
    ];
    const answers = await Promise.all(burst.map((v) => gql(APPEND, v)));
    const outcome = (i: number) => codes(answers[i]!)[0] ?? "OK";
    expect(answers.slice(0, 18).map((_, i) => outcome(i))).toEqual(Array(18).fill("OK"));
    expect(burst.slice(18).map((_, i) => outcome(18 + i))).toEqual([
      "SEQ_NUM_MISMATCH",
      "OK",
      "SESSION_CLOSED",
      "NOT_FOUND",
      s2 ? "OK" : "BAD_USER_INPUT",
    ]);
    // Dense per channel, each append's records together, every acknowledged record stored.
    const aOut = (await gql(READ, { id: a, limit: 100 })).data!.session.out;
    expect(aOut.records.map((r: any) => r.seqNum)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(aOut.records.map((r: any) => r.data).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `a${i}`).sort());
    const e = (await gql(READ, { id: ext, limit: 100 })).data!.session;
    for (const channel of [e.out, e.in]) {
      expect(channel.records.map((r: any) => r.seqNum)).toEqual([0, 1, 2, 3, 4, 5]);
      for (let k = 0; k < 6; k += 2) expect(channel.records[k + 1].data).toBe(`${channel.records[k].data}'`);
    }
    expect((await gql(READ, { id: b })).data!.session.out.records.map((r: any) => r.data)).toEqual(["first", "fits"]);
    expect((await gql(READ, { id: closed })).data!.session.out.tailSeqNum).toBe(1);
  });

  it("reads as many records as fit in a byte cap, always at least one", async () => {
    const id = await newSession();
    // Ten records of about 1 kB of JSON each (S2 meters 8 bytes more per record, PostgreSQL's text
    // of jsonb is the JSON itself for a string).
    const kB = (i: number) => `${i}`.padEnd(1_000, "x");
    await gql(APPEND, { id, io: "OUT", records: records(...Array.from({ length: 10 }, (_, i) => kB(i))) });
    const store = server.services.store;
    const channel = { sessionId: id, io: "OUT" } as const;
    const seqs = async (from: number, limit: number, maxBytes?: number) => (await store.read(channel, from, limit, maxBytes)).map((r) => r.seqNum);
    expect(await seqs(0, 1_000, 3_500)).toEqual([0, 1, 2]);
    expect(await seqs(3, 1_000, 3_500)).toEqual([3, 4, 5]);
    expect(await seqs(8, 1_000, 3_500)).toEqual([8, 9]);
    expect(await seqs(0, 2, 3_500)).toEqual([0, 1]);
    expect(await seqs(4, 1_000, 10)).toEqual([4]);
    expect(await seqs(10, 1_000, 3_500)).toEqual([]);
    expect(await seqs(0, 1_000)).toHaveLength(10);
    expect((await store.read(channel, 5, 1_000, 3_500)).map((r) => r.data)).toEqual([kB(5), kB(6), kB(7)]);
    if (double) expect(double.reads.some((r) => r.bytes === 3_500)).toBe(true);
  });

  it("enforces matchSeqNum", async () => {
    const id = await newSession();
    expect((await gql(APPEND, { id, io: "OUT", records: records(1), match: 0 })).data!.appendToSession.lastSeqNum).toBe(0);
    const stale = await gql(APPEND, { id, io: "OUT", records: records(2), match: 0 });
    expect(codes(stale)).toEqual(["SEQ_NUM_MISMATCH"]);
    expect((await gql(APPEND, { id, io: "OUT", records: records(2), match: 1 })).data!.appendToSession.lastSeqNum).toBe(1);
    expect((await gql(READ, { id })).data!.session.out.tailSeqNum).toBe(2);
  });

  it("deduplicates a retried append by idempotencyKey", async () => {
    const id = await newSession();
    const first = await gql(APPEND, { id, io: "OUT", records: records("x", "y"), key: "turn-1" });
    expect(first.data!.appendToSession).toMatchObject({ firstSeqNum: 0, lastSeqNum: 1, deduplicated: false });
    await gql(APPEND, { id, io: "OUT", records: records("z") });
    const retry = await gql(APPEND, { id, io: "OUT", records: records("x", "y"), key: "turn-1" });
    expect(retry.data!.appendToSession).toEqual({ firstSeqNum: 0, lastSeqNum: 1, tailSeqNum: 3, deduplicated: true });
    // The same key on the other channel is a different append.
    expect((await gql(APPEND, { id, io: "IN", records: records("x"), key: "turn-1" })).data!.appendToSession.deduplicated).toBe(false);
    const concurrent = await Promise.all(Array.from({ length: 8 }, () => gql(APPEND, { id, io: "OUT", records: records("once"), key: "turn-2" })));
    expect(concurrent.filter((r) => r.data?.appendToSession.deduplicated === false)).toHaveLength(1);
    expect((await gql(READ, { id })).data!.session.out.tailSeqNum).toBe(4);
  });

  it("rejects bad appends without storing anything", async () => {
    const id = await newSession();
    await gql(APPEND, { id, io: "OUT", records: records("keep") });
    const big = "x".repeat(1024 * 1024);
    const cases: [Record<string, unknown>, string][] = [
      [{ records: [] }, "BAD_USER_INPUT"],
      [{ records: records(...Array.from({ length: 1001 }, (_, i) => i)) }, "PAYLOAD_TOO_LARGE"],
      [{ records: records(big) }, "PAYLOAD_TOO_LARGE"],
      [{ records: records("x".repeat(600_000), "y".repeat(600_000)) }, "PAYLOAD_TOO_LARGE"],
      [{ records: records(1), key: "" }, "BAD_USER_INPUT"],
      [{ records: records(1), match: -1 }, "BAD_USER_INPUT"],
      [{ records: records(1), io: "SIDEWAYS" }, "BAD_USER_INPUT"],
      [{ records: [{}] }, "BAD_USER_INPUT"],
      [{ records: records(1), id: "no-such-session" }, "NOT_FOUND"],
    ];
    for (const [vars, code] of cases) {
      const r = await gql(APPEND, { id, io: "OUT", ...vars });
      expect(codes(r), JSON.stringify(vars).slice(0, 80)).toEqual([code]);
    }
    const limit = await gql(READ, { id, limit: 1001 });
    expect(codes(limit)).toEqual(["BAD_USER_INPUT"]);
    expect((await gql(READ, { id })).data!.session.out).toMatchObject({ tailSeqNum: 1, records: [{ data: "keep" }] });
  });

  it("refuses appends once closed, and never lets one land after the close is acknowledged", async () => {
    const id = await newSession();
    // The channel row exists from here on, so every append below queues on it.
    await gql(APPEND, { id, io: "IN", records: records("first") });
    let acked = 1;
    let sent = 0;
    let closeSent = false;
    const inFlight = new Set<number>();
    // Writers append one record at a time until the close is sent; the appends in flight then
    // race it. They stop there: appends that never pause can hold the session row FOR SHARE
    // without a gap, and the close would wait for as long as they go on.
    const WRITERS = 4;
    const writer = async () => {
      while (!closeSent) {
        const n = sent++;
        inFlight.add(n);
        const r = await gql(APPEND, { id, io: "IN", records: records(n) });
        inFlight.delete(n);
        if (r.data?.appendToSession) acked++;
        else expect(codes(r)).toEqual(["SESSION_CLOSED"]);
      }
    };
    const closeSession = () => gql<{ closeSession: { status: string } }>(`mutation($id: ID!) { closeSession(id: $id) { status } }`, { id });
    const writers = Array.from({ length: WRITERS }, writer);
    // Appends are flowing before the close is sent.
    await vi.waitFor(() => expect(acked).toBeGreaterThanOrEqual(8), { timeout: 20_000, interval: 5 });
    let close: Awaited<ReturnType<typeof closeSession>>;
    if (backend === "postgres") {
      // Proof that appends were inside their transactions when the close came: hold the channel
      // row, so appends take the session row FOR SHARE and then wait; send the close; see that
      // PostgreSQL blocks the close on those appends; then let everything go.
      const holder = new pg.Client({ connectionString: server.env.DATABASE_URL });
      const monitor = new pg.Client({ connectionString: server.env.DATABASE_URL });
      await Promise.all([holder.connect(), monitor.connect()]);
      try {
        const holderPid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
        await holder.query("BEGIN");
        await holder.query("SELECT 1 FROM channels WHERE session_id = $1 AND io = 'IN' FOR UPDATE", [id]);
        const lockWaiters = async () =>
          (
            await monitor.query<{ pid: number; query: string; blockers: number[] }>(
              `SELECT pid, query, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
            )
          ).rows;
        const isClose = (query: string) => /^\s*UPDATE\s+"public"\."sessions"/i.test(query);
        await vi.waitFor(async () => expect((await lockWaiters()).filter((w) => !isClose(w.query)).length).toBeGreaterThan(0), { timeout: 20_000, interval: 10 });
        closeSent = true;
        const closing = closeSession();
        const closeWaiting = await vi.waitFor(
          async () => {
            const waiting = (await lockWaiters()).find((w) => isClose(w.query));
            expect(waiting).toBeDefined();
            return waiting!;
          },
          { timeout: 20_000, interval: 10 },
        );
        // What holds the close up is appends holding the session row, not this test's lock.
        const appendPids = new Set((await lockWaiters()).filter((w) => !isClose(w.query)).map((w) => w.pid));
        const blockingAppends = closeWaiting.blockers.filter((pid) => appendPids.has(pid));
        expect(closeWaiting.blockers).not.toContain(holderPid);
        expect(blockingAppends.length).toBeGreaterThan(0);
        await holder.query("ROLLBACK");
        close = await closing;
      } finally {
        await Promise.all([holder.end(), monitor.end()]);
      }
    } else {
      // PGlite runs one statement at a time, so no append can be inside its transaction while the
      // close runs; the race is between requests. Send the close at a moment appends are in flight
      // (checked and sent in one synchronous step) and count them.
      let racing = 0;
      let closing: ReturnType<typeof closeSession> | undefined;
      await vi.waitFor(
        () => {
          if (closing) return;
          expect(inFlight.size).toBeGreaterThan(0);
          racing = inFlight.size;
          closeSent = true;
          closing = closeSession();
        },
        { timeout: 20_000, interval: 1 },
      );
      expect(racing).toBeGreaterThan(0);
      close = await closing!;
    }
    expect(close.data!.closeSession.status).toBe("CLOSED");
    const tailAtClose = (await gql(READ, { id })).data!.session.in.tailSeqNum;
    await Promise.all(writers);
    const after = (await gql(READ, { id, limit: 1000 })).data!.session.in;
    expect(after.tailSeqNum).toBe(tailAtClose);
    expect(after.records).toHaveLength(acked);
    expect(codes(await gql(APPEND, { id, io: "OUT", records: records("late") }))).toEqual(["SESSION_CLOSED"]);
  });

  it("describes the channel for direct access", async () => {
    const id = await newSession();
    const INIT = `mutation($id: ID!) { initializeSessionChannel(id: $id, io: OUT) { io backend stream basin endpoint accessToken expiresAt } }`;
    const r = await gql(INIT, { id });
    if (!double) {
      expect(r.data!.initializeSessionChannel).toEqual({ io: "OUT", backend: "local", stream: `sessions/${id}/out`, basin: null, endpoint: null, accessToken: null, expiresAt: null });
      return;
    }
    expect(r.data!.initializeSessionChannel).toMatchObject({ io: "OUT", backend: "s2", stream: `sessions/${id}/out`, basin: "test-basin", endpoint: double.endpoint });
    const issued = double.issued.find((t) => t.token === r.data!.initializeSessionChannel.accessToken);
    expect(issued?.scope).toMatchObject({ streams: { exact: `sessions/${id}/out` }, ops: ["read", "check-tail", "append"] });
    // A read-only token gets a read-only stream token.
    const readToken = (await gql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: [`read:sessions:${id}`] })).data!.createPublicAccessToken.token;
    const { gqlClient } = await import("./helpers/test-server.js");
    const ro = await gqlClient(server.url, readToken)(INIT, { id });
    expect(double.issued.find((t) => t.token === ro.data!.initializeSessionChannel.accessToken)?.scope).toMatchObject({ ops: ["read", "check-tail"] });
  });

});

describe("channels on S2: lost responses", () => {
  let server: TestServer;
  let gql: Gql;
  let double: Awaited<ReturnType<typeof startS2Double>>;
  const records = (...data: unknown[]) => data.map((d) => ({ data: d }));
  const newSession = () => createSessionId(gql);

  beforeAll(async () => {
    double = await startS2Double("s2-root-token");
    server = await startServer({ ...(await backendEnv("pglite")), ...double.env });
    gql = (await server.newEnvironment()).gql;
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  it("never duplicates a record when S2's answer to an append is lost", async () => {
    const id = await newSession();
    await gql(APPEND, { id, io: "OUT", records: records("before") });
    double.loseNextAppendResponse();
    const lost = await gql(APPEND, { id, io: "OUT", records: records("once") });
    expect(codes(lost)).toEqual(["INTERNAL_SERVER_ERROR"]);
    const stored = (await gql(READ, { id })).data!.session.out.records.map((r: any) => r.data);
    expect(stored).toEqual(["before", "once"]);
    expect(double.streams.get(`test-basin/sessions/${id}/out`)).toHaveLength(2);
  });
});

describe("channels on the local store: group commit", () => {
  let server: TestServer;
  let gql: Gql;
  let environmentId: string;

  beforeAll(async () => {
    server = await startServer("postgres");
    ({ gql, id: environmentId } = await server.newEnvironment());
  });
  afterAll(() => server?.close());

  it("stores concurrent retries with one idempotency key once, when each began before the first committed", async () => {
    const sql = server.services.db.sql;
    const sent: string[] = [];
    const store = new LocalStreamStore({
      query: async <Row,>(statement: string | Prepared, params?: unknown[]) => {
        sent.push(typeof statement === "string" ? statement : statement.name);
        return sql.query<Row>(statement, params);
      },
    });
    const ref = await createSessionId(gql);
    const session = { environmentId, ref };
    await store.append({ session, io: "OUT", records: encodeRecords(["first"]) });
    // Hold the channel row's lock, so that every retry takes its snapshot (seeing no key yet) and then waits for it.
    const holder = new pg.Client({ connectionString: server.env.DATABASE_URL });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT 1 FROM channels WHERE session_id = $1 AND io = 'OUT' FOR UPDATE", [ref]);
      const retries = Array.from({ length: 3 }, () => store.append({ session, io: "OUT", records: encodeRecords(["once"]), idempotencyKey: "race" }));
      // The race happened: at least two of them took their snapshot and now wait on the lock. Asked
      // outside the holder's transaction: inside one, pg_stat_activity answers what its first read saw.
      await vi.waitFor(
        async () => {
          const [row] = await sql.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%append_keys%'",
          );
          expect(row!.n).toBeGreaterThanOrEqual(2);
        },
        { timeout: 10_000, interval: 20 },
      );
      await holder.query("COMMIT");
      const outcomes = await Promise.all(retries);
      const acks = outcomes.map((o) => (o.status === "appended" ? { first: o.ack.firstSeqNum, deduplicated: o.deduplicated } : o.status));
      expect(acks.filter((a) => typeof a === "object" && !a.deduplicated)).toHaveLength(1);
      expect(acks).toEqual(Array.from({ length: 3 }, () => expect.objectContaining({ first: 1 })));
      // Those that lost the race found the winner's key only by running again.
      expect(sent.filter((name) => name === "append-by-id").length).toBeGreaterThanOrEqual(1 + 3 + 1);
    } finally {
      await holder.end();
    }
    expect((await store.read({ sessionId: ref, io: "OUT" }, 0, 10)).map((r) => r.data)).toEqual(["first", "once"]);
  });

  it("writes concurrent appends to many channels in shared statements, each with its own answer", async () => {
    // The store over the server's own database, with every statement it sends written down.
    const sent: { text: string; rows: number }[] = [];
    const sql = server.services.db.sql;
    const store = new LocalStreamStore({
      query: async <Row,>(statement: string | Prepared, params?: unknown[]) => {
        const rows = await sql.query<Row>(statement, params);
        sent.push({ text: typeof statement === "string" ? statement : statement.text, rows: rows.length });
        return rows;
      },
    });
    const ids = await Promise.all(Array.from({ length: 40 }, () => createSessionId(gql)));
    // A first append makes each channel's row; the shared statement only updates existing rows.
    for (const ref of ids) await store.append({ session: { environmentId, ref }, io: "OUT", records: encodeRecords(["first"]) });
    sent.length = 0;
    const outcomes = await Promise.all(ids.map((ref, i) => store.append({ session: { environmentId, ref }, io: "OUT", records: encodeRecords([i, `${i}'`]) })));
    expect(outcomes.every((o) => o.status === "appended" && o.ack.firstSeqNum === 1 && o.ack.tailSeqNum === 3)).toBe(true);
    expect(sent.length).toBeLessThan(ids.length / 2);
    expect(sent.some((s) => s.text.includes("jsonb_to_recordset") && s.rows > 1)).toBe(true);
    for (const [i, sessionId] of outcomes.map((o) => (o.status === "appended" ? o.sessionId : "")).entries()) {
      expect((await store.read({ sessionId, io: "OUT" }, 0, 10)).map((r) => r.data)).toEqual(["first", i, `${i}'`]);
    }
  });
});
