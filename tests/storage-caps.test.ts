import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Prepared } from "../src/db/database.js";
import { Housekeeping } from "../src/housekeeping/index.js";
import { environmentStorage } from "../src/housekeeping/tasks.js";
import { encodeRecords } from "../src/channels/channel-writer.js";
import { LocalStreamStore } from "../src/channels/local-stream-store.js";
import { StorageFullError } from "../src/channels/storage-caps.js";
import { backendEnv } from "./helpers/backends.js";
import { startS2Double } from "./helpers/s2-double.js";
import { codes, createSessionId, gqlClient, startServer, type Gql, type GraphQLResponse, type TestServer } from "./helpers/test-server.js";

/** Storage caps (issue #12 item 5): a session's and an environment's records, in bytes of JSON. */
const SESSION_CAP = 1_000;
const ENVIRONMENT_CAP = 3_000;

const APPEND = `mutation($id: ID!, $io: SessionIO!, $records: [AppendRecordInput!]!, $match: SeqNum, $key: String) {
  appendToSession(id: $id, io: $io, records: $records, matchSeqNum: $match, idempotencyKey: $key) {
    firstSeqNum lastSeqNum tailSeqNum deduplicated } }`;
const TAILS = `query($id: ID!) { session(id: $id) {
  out { tailSeqNum records(limit: 1000) { data } } in { tailSeqNum records(limit: 1000) { data } } } }`;

/** A record whose JSON is exactly `bytes` bytes: a string of bytes - 2 letters (plus its quotes). */
const sized = (bytes: number, letter = "a") => letter.repeat(bytes - 2);
const records = (...data: unknown[]) => data.map((d) => ({ data: d }));
const byteSum = (data: unknown[]) => data.reduce<number>((n, d) => n + Buffer.byteLength(JSON.stringify(d)), 0);
const outcome = (r: GraphQLResponse) => codes(r)[0] ?? "OK";
const logger = pino({ level: "silent" });

/** The same cases on every stream store: the local store's statements and the writer's transaction (S2). */
const stores = [
  { name: "local store on PGlite", backend: "pglite", s2: false },
  { name: "local store on PostgreSQL", backend: "postgres", s2: false },
  { name: "S2 (SDK against the S2 double) with PostgreSQL", backend: "postgres", s2: true },
] as const;

describe.each(stores)("storage caps: $name", ({ backend, s2 }) => {
  let server: TestServer;
  let gql: Gql;
  let double: Awaited<ReturnType<typeof startS2Double>> | undefined;

  beforeAll(async () => {
    double = s2 ? await startS2Double("s2-root-token") : undefined;
    server = await startServer({
      ...(await backendEnv(backend)),
      ...double?.env,
      LIMIT_STORAGE_PER_SESSION: String(SESSION_CAP),
      LIMIT_STORAGE_PER_ENVIRONMENT: String(ENVIRONMENT_CAP),
      // The service's own sweeps never run during these tests: each test drives one itself.
      HOUSEKEEPING_INTERVAL_MS: "86400000",
    });
    ({ gql } = await server.newEnvironment());
  });
  afterAll(async () => {
    await server?.close();
    await double?.close();
  });

  const stored = async (id: string, viaGql = gql) => {
    const session = (await viaGql(TAILS, { id })).data!.session;
    const data = [...session.out.records, ...session.in.records].map((r: { data: unknown }) => r.data);
    return { out: session.out.tailSeqNum as number, in: session.in.tailSeqNum as number, bytes: byteSum(data) };
  };
  const refusals = async (reason: string) => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`sessions_limit_refusals_total{reason="${reason}"}`));
    return line ? Number(line.split(" ").pop()) : 0;
  };
  /** One sweep of the environment-storage task, on an injected clock. */
  const sweepAt = (now: Date) => new Housekeeping({ sql: server.services.db.sql, logger, now: () => now, tasks: [environmentStorage()] }).sweep();

  it("refuses a public token's append past its session's cap with PAYLOAD_TOO_LARGE, stores nothing of it, and leaves the next session alone", async () => {
    const { gql: envGql } = await server.newEnvironment();
    const ext = `chat-${Math.random().toString(36).slice(2)}`;
    await envGql(`mutation($e: String!) { createSession(input: { type: "chat", externalId: $e }) { isCached } }`, { e: ext });
    const token = (await envGql(`mutation($s: [String!]!) { createPublicAccessToken(scopes: $s) { token } }`, { s: [`write:sessions:${ext}`] })).data!
      .createPublicAccessToken.token as string;
    const pub = gqlClient(server.url, token);
    const before = await refusals("session_storage");

    // Both channels count: 900 bytes out and 100 in is exactly the cap.
    expect(outcome(await pub(APPEND, { id: ext, io: "OUT", records: records(...Array.from({ length: 9 }, () => sized(100))) }))).toBe("OK");
    expect(outcome(await pub(APPEND, { id: ext, io: "IN", records: records(sized(100)) }))).toBe("OK");
    expect(await stored(ext, pub)).toEqual({ out: 9, in: 1, bytes: SESSION_CAP });

    const refused = await pub(APPEND, { id: ext, io: "OUT", records: records(sized(3)) });
    expect(codes(refused)).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(refused.errors![0]!.message).toContain("full");
    expect(codes(await pub(APPEND, { id: ext, io: "IN", records: records(sized(3)) }))).toEqual(["PAYLOAD_TOO_LARGE"]);
    // With the right matchSeqNum the cap is what refuses it, and says so.
    expect(codes(await pub(APPEND, { id: ext, io: "OUT", records: records(sized(3)), match: 9 }))).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(await stored(ext, pub)).toEqual({ out: 9, in: 1, bytes: SESSION_CAP });
    expect(await refusals("session_storage")).toBe(before + 3);

    // The next session of the same environment holds a full cap of its own.
    const next = await createSessionId(envGql);
    expect(outcome(await envGql(APPEND, { id: next, io: "OUT", records: records(sized(500), sized(500)) }))).toBe("OK");
    expect(await stored(next, envGql)).toMatchObject({ out: 2, bytes: SESSION_CAP });
  });

  it("never stores more than the cap when concurrent appends meet at the boundary", async () => {
    // Four sessions at 850 bytes, then a burst of 100-byte appends to each (batched together on
    // the local store): exactly one more fits in each, the rest are refused, and nothing is lost.
    const ids = await Promise.all(Array.from({ length: 4 }, () => createSessionId(gql)));
    for (const id of ids) expect(outcome(await gql(APPEND, { id, io: "OUT", records: records(sized(850)) }))).toBe("OK");
    const burst = ids.flatMap((id) => Array.from({ length: 8 }, (_, k) => ({ id, io: "OUT", records: records(sized(100, "b"), `${k}`) })));
    const answers = await Promise.all(burst.map((v) => gql(APPEND, v)));
    for (const id of ids) {
      const mine = answers.filter((_, i) => burst[i]!.id === id).map(outcome);
      expect(mine.filter((o) => o === "OK")).toHaveLength(1);
      expect(mine.filter((o) => o !== "OK").every((o) => o === "PAYLOAD_TOO_LARGE")).toBe(true);
      const now = await stored(id);
      expect(now.out).toBe(3);
      expect(now.bytes).toBeLessThanOrEqual(SESSION_CAP);
    }
    // A channel's running count is what it holds: the stored JSON, byte for byte.
    const counted = await server.services.db.sql.query<{ n: string }>(
      `SELECT sum(stored_bytes)::text AS n FROM channels WHERE session_id = ANY($1::text[])`,
      [ids],
    );
    expect(Number(counted[0]!.n)).toBe(ids.length * (850 + 100 + 3));
  });

  it("applies the cap on the idempotency-key path, after deduplication", async () => {
    const id = await createSessionId(gql);
    const first = await gql(APPEND, { id, io: "IN", records: records(sized(600), sized(400)), key: "turn-1" });
    expect(first.data!.appendToSession).toMatchObject({ firstSeqNum: 0, lastSeqNum: 1, deduplicated: false });
    // Full now; a retry of the append that filled it is still answered as the original.
    const retry = await gql(APPEND, { id, io: "IN", records: records(sized(600), sized(400)), key: "turn-1" });
    expect(retry.data!.appendToSession).toMatchObject({ firstSeqNum: 0, lastSeqNum: 1, deduplicated: true });
    expect(codes(await gql(APPEND, { id, io: "IN", records: records(sized(3)), key: "turn-2" }))).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(codes(await gql(APPEND, { id, io: "OUT", records: records(sized(3)), key: "turn-3" }))).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(await stored(id)).toEqual({ out: 0, in: 2, bytes: SESSION_CAP });
    // Concurrent keyed appends at the boundary: exactly as many as fit.
    const other = await createSessionId(gql);
    expect(outcome(await gql(APPEND, { id: other, io: "OUT", records: records(sized(700)) }))).toBe("OK");
    const keyed = await Promise.all(
      Array.from({ length: 6 }, (_, k) => gql(APPEND, { id: other, io: "OUT", records: records(sized(100)), key: `k-${k}` })),
    );
    expect(keyed.map(outcome).filter((o) => o === "OK")).toHaveLength(3);
    expect(keyed.map(outcome).filter((o) => o !== "OK")).toEqual(["PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE"]);
    expect(await stored(other)).toEqual({ out: 4, in: 0, bytes: SESSION_CAP });
  });

  it("refuses appends once the sweeper has measured the environment past its cap, and no other environment's", async () => {
    const { gql: envGql, id: envId } = await server.newEnvironment();
    const ids = await Promise.all(Array.from({ length: 4 }, () => createSessionId(envGql)));
    // Soft: until a sweep measures it, the environment may pass its cap (3,600 > 3,000 bytes).
    for (const id of ids) expect(outcome(await envGql(APPEND, { id, io: "OUT", records: records(sized(900)) }))).toBe("OK");
    const late = await createSessionId(envGql);
    expect(outcome(await envGql(APPEND, { id: late, io: "OUT", records: records(sized(10)) }))).toBe("OK");
    // Another environment, well under its cap.
    const { gql: otherGql, id: otherId } = await server.newEnvironment();
    const neighbour = await createSessionId(otherGql);
    expect(outcome(await otherGql(APPEND, { id: neighbour, io: "OUT", records: records(sized(900)) }))).toBe("OK");

    const now = new Date("2030-06-01T00:00:00.000Z");
    const before = await refusals("environment_storage");
    expect((await sweepAt(now)).environment_storage).toBeGreaterThan(0);
    const [usage] = await server.services.db.sql.query<{ bytes: string; at: Date }>(
      `SELECT stored_bytes::text AS bytes, measured_at AS at FROM environment_usage WHERE environment_id = $1`,
      [envId],
    );
    expect(usage).toEqual({ bytes: String(4 * 900 + 10), at: now });

    // Every way in is refused now, writing nothing: a fresh session, a session with room, a keyed append.
    const fresh = await createSessionId(envGql);
    const refused = await envGql(APPEND, { id: fresh, io: "IN", records: records(sized(10)) });
    expect(codes(refused)).toEqual(["PAYLOAD_TOO_LARGE"]);
    expect(refused.errors![0]!.message).toContain("environment");
    const all = await Promise.all([
      envGql(APPEND, { id: late, io: "OUT", records: records(sized(10)) }),
      envGql(APPEND, { id: late, io: "IN", records: records(sized(10)) }),
      envGql(APPEND, { id: ids[0], io: "IN", records: records(sized(10)), key: "after-sweep" }),
    ]);
    expect(all.map(outcome)).toEqual(["PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE"]);
    expect(await stored(fresh, envGql)).toEqual({ out: 0, in: 0, bytes: 0 });
    expect(await stored(late, envGql)).toEqual({ out: 1, in: 0, bytes: 10 });
    expect(await refusals("environment_storage")).toBe(before + 4);

    // The other environment, measured by the same sweep, is untouched.
    const [other] = await server.services.db.sql.query<{ bytes: string }>(`SELECT stored_bytes::text AS bytes FROM environment_usage WHERE environment_id = $1`, [otherId]);
    expect(other!.bytes).toBe("900");
    expect(outcome(await otherGql(APPEND, { id: neighbour, io: "IN", records: records(sized(100)) }))).toBe("OK");
    expect(outcome(await otherGql(APPEND, { id: await createSessionId(otherGql), io: "OUT", records: records(sized(900)) }))).toBe("OK");
  });
});

describe.each(stores.filter((store) => !store.s2))("storage caps in the local store's shared statement: $name", ({ backend }) => {
  let server: TestServer;
  let gql: Gql;
  let environmentId: string;

  beforeAll(async () => {
    server = await startServer(backend);
    ({ gql, id: environmentId } = await server.newEnvironment());
  });
  afterAll(() => server?.close());

  it("answers an item the session cap refuses inside a shared batch statement, without a second statement", async () => {
    // The local store over the server's own database, with every statement it sends written down.
    const sent: string[] = [];
    const sql = server.services.db.sql;
    const store = new LocalStreamStore(
      {
        query: async <Row,>(statement: string | Prepared, params?: unknown[]) => {
          sent.push(typeof statement === "string" ? statement : statement.name);
          return sql.query<Row>(statement, params);
        },
      },
      { caps: { perSession: SESSION_CAP, perEnvironment: null } },
    );
    const ids = await Promise.all(Array.from({ length: 6 }, () => createSessionId(gql)));
    for (const ref of ids) await store.append({ session: { environmentId, ref }, io: "OUT", records: encodeRecords([sized(950)]) });
    sent.length = 0;
    // Even items fit (50 bytes: exactly the cap), odd ones do not (51).
    const outcomes = await Promise.allSettled(ids.map((ref, i) => store.append({ session: { environmentId, ref }, io: "OUT", records: encodeRecords([sized(50 + (i % 2))]) })));
    outcomes.forEach((o, i) => {
      if (i % 2 === 0) expect(o.status === "fulfilled" && o.value.status === "appended").toBe(true);
      else expect(o.status === "rejected" && o.reason instanceof StorageFullError && o.reason.scope === "session").toBe(true);
    });
    // One shared statement answered them all: no refused item was sent again on its own.
    expect(sent.filter((name) => name.startsWith("append-by-"))).toEqual([]);
    expect(sent.filter((name) => name === "append-batch").length).toBeGreaterThan(0);
  });
});
