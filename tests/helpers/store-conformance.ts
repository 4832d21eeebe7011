/**
 * The stream store conformance suite: one set of cases every `StreamStore` must pass, run against
 * each store by tests/store-conformance.test.ts (after the Durable Streams server's conformance
 * package: one suite, every store). The memory store (src/channels/memory-stream-store.ts) is the
 * reference behaviour.
 *
 * Covered: appends (dense seqNums, the reported tail, timestamps), matchSeqNum, reads (any
 * position, past the tail, count and byte limits), the tail, independent channels, follow,
 * concurrent appends, trim (the head, RECORDS_TRIMMED below it, trims racing appends), finding
 * records by age, deleting a session's channels, and, through the ChannelWriter in front of every
 * store, what each store's one append path guards: the close, and idempotency keys (in the local
 * store's own statement; in the database guard for S2 and memory).
 *
 * Where a store legitimately differs, `StoreTraits` says how and the case asserts that store's
 * behaviour explicitly: no case is skipped for a store.
 */
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { ApiError } from "../../src/errors/api-error.js";
import { encodeRecords, type ChannelWriter } from "../../src/channels/channel-writer.js";
import type { AppendAck, ChannelKey, Follow, SessionIO, SessionName, StoredRecord, StreamStore } from "../../src/channels/stream-store.js";
import type { Gql, TestServer } from "./test-server.js";

/** How a store may differ from the reference (memory) store, and does. */
export interface StoreTraits {
  /**
   * "reported": the append's ack carries the timestamp every record of the append is stored
   * with (memory, local). "own-clock": the store stamps records with its own clock and the ack
   * carries none (S2: the service cannot know the time S2 assigned without reading back).
   */
  timestamps: "reported" | "own-clock";
  /**
   * The bytes a record costs against `read`'s maxBytes, given the record's JSON: JSON bytes
   * (memory), PostgreSQL's text of the stored jsonb (local; equal to the JSON for the strings
   * used here), S2's metered bytes (the body plus 8 per record).
   */
  readBytes(json: string): number;
  /**
   * Whether the store has a live read of its own (a `Follow`, wired as `services.follow`). The local store does not: its
   * followers are woken by the writer's append notices (ChannelFanout), since every write to it
   * passes through this service.
   */
  follows: boolean;
  /**
   * Whether a record may hold the NUL character (`\u0000`, valid JSON). PostgreSQL's jsonb cannot
   * store it, so the local store refuses such an append with BAD_USER_INPUT; memory and S2 store it.
   */
  storesNul: boolean;
  /**
   * Whether a trim takes a seqNum of its own. S2 trims with a command record, which is appended
   * like a record (its tail moves by one) and holds none: reads pass over it, and a channel
   * trimmed to its tail keeps its head on that command, one below the tail. The others only move
   * the head.
   */
  trimTakesSeqNum: boolean;
}

/** A store under test, with the service (database, sessions, writer) it runs behind. */
export interface ConformanceTarget {
  server: TestServer;
  store: StreamStore;
  /** The store's own live read, as the composition root wires it (services.follow); undefined for the local store. */
  follow: Follow | undefined;
  /** The writer in front of this store, on the server's database. */
  writer: ChannelWriter;
  close(): Promise<void>;
}

interface TestChannel extends ChannelKey {
  session: SessionName;
}

const CLOSE = `mutation($id: ID!) { closeSession(id: $id) { status } }`;

/**
 * Registers the suite's cases in the calling describe block, against the target `open` returns;
 * `traits` are given up front, since they decide which cases a store gets where it differs.
 */
export function storeConformance(traits: StoreTraits, open: () => Promise<ConformanceTarget>) {
  let target: ConformanceTarget;
  let gql: Gql;
  let environmentId: string;

  beforeAll(async () => {
    target = await open();
    const environment = await target.server.newEnvironment();
    gql = environment.gql;
    environmentId = environment.id;
  }, 60_000);
  afterAll(async () => {
    await target?.close();
  });

  /** A channel of a new session of its own (the writer and the local store need the session row). */
  async function newChannel(io: SessionIO = "OUT"): Promise<TestChannel> {
    const r = await gql<{ createSession: { session: { id: string } } }>(`mutation { createSession(input: { type: "conformance" }) { session { id } } }`);
    const sessionId = r.data!.createSession.session.id;
    return { sessionId, io, session: { environmentId, ref: sessionId } };
  }

  const other = (channel: TestChannel, io: SessionIO): TestChannel => ({ ...channel, io });

  /** Appends straight to the store, as the writer does, with no idempotency key. */
  async function append(channel: TestChannel, data: unknown[], matchSeqNum?: number): Promise<AppendAck> {
    const outcome = await target.store.append({ session: channel.session, io: channel.io, records: encodeRecords(data), matchSeqNum });
    if (outcome.status !== "appended") throw new Error(`append refused: session ${outcome.status}`);
    return outcome.ack;
  }

  const seqNums = (records: StoredRecord[]) => records.map((r) => r.seqNum);
  const datas = (records: StoredRecord[]) => records.map((r) => r.data);
  const readAll = (channel: ChannelKey, from = 0) => target.store.read(channel, from, 1_000);

  it("appends with dense seqNums from 0, reports the tail, and reads records back as appended", async () => {
    const channel = await newChannel();
    const values = [{ t: "a", n: [1, 2] }, [true, null], "c"];
    expect(await append(channel, values)).toMatchObject({ firstSeqNum: 0, lastSeqNum: 2, tailSeqNum: 3 });
    expect(await append(channel, [4.5, false])).toMatchObject({ firstSeqNum: 3, lastSeqNum: 4, tailSeqNum: 5 });
    expect(await target.store.tail(channel)).toBe(5);
    const stored = await readAll(channel);
    expect(seqNums(stored)).toEqual([0, 1, 2, 3, 4]);
    expect(datas(stored)).toEqual([...values, 4.5, false]);
  });

  it("stamps every record of an append with one timestamp, by the store's rule", async () => {
    const channel = await newChannel();
    const before = Date.now();
    const ack = await append(channel, ["a", "b", "c"]);
    const after = Date.now();
    const stamps = (await readAll(channel)).map((r) => r.timestamp.getTime());
    expect(new Set(stamps).size).toBe(1);
    if (traits.timestamps === "reported") {
      expect(ack.timestamp).toBeInstanceOf(Date);
      expect(stamps[0]).toBe(ack.timestamp!.getTime());
    } else {
      // S2 stamps with its own clock and says nothing in the ack; the double's clock is this
      // machine's (S2's own is not, so nothing tighter holds in production).
      expect(ack.timestamp).toBeUndefined();
      expect(stamps[0]).toBeGreaterThanOrEqual(before);
      expect(stamps[0]).toBeLessThanOrEqual(after);
    }
  });

  it("matchSeqNum: the tail is accepted; anything else is refused with SEQ_NUM_MISMATCH and the tail, storing nothing", async () => {
    const channel = await newChannel();
    // An empty channel's tail is 0, whether or not the store has seen the channel before.
    await expect(append(channel, ["x"], 1)).rejects.toMatchObject({ extensions: { code: "SEQ_NUM_MISMATCH", tailSeqNum: 0 } });
    expect(await append(channel, ["a", "b"], 0)).toMatchObject({ firstSeqNum: 0, tailSeqNum: 2 });
    expect(await append(channel, ["c"], 2)).toMatchObject({ firstSeqNum: 2, tailSeqNum: 3 });
    for (const stale of [0, 2, 4]) {
      const refused = append(channel, ["never"], stale);
      await expect(refused).rejects.toBeInstanceOf(ApiError);
      await expect(refused).rejects.toMatchObject({ extensions: { code: "SEQ_NUM_MISMATCH", tailSeqNum: 3 } });
    }
    expect(await target.store.tail(channel)).toBe(3);
    expect(datas(await readAll(channel))).toEqual(["a", "b", "c"]);
  });

  if (traits.storesNul) {
    it("stores a record holding the NUL character", async () => {
      const channel = await newChannel();
      await append(channel, ["a\u0000b"]);
      expect(datas(await readAll(channel))).toEqual(["a\u0000b"]);
    });
  } else {
    it("refuses a record holding the NUL character with BAD_USER_INPUT, storing nothing", async () => {
      const channel = await newChannel();
      await expect(append(channel, ["ok", "a\u0000b"])).rejects.toMatchObject({ extensions: { code: "BAD_USER_INPUT" } });
      expect(await target.store.tail(channel)).toBe(0);
    });
  }

  it("reads from any position; at or past the tail, and on an unknown channel, reads nothing", async () => {
    const channel = await newChannel();
    await append(channel, ["r0", "r1", "r2", "r3", "r4"]);
    for (const from of [0, 1, 3, 4]) expect(seqNums(await readAll(channel, from))).toEqual([0, 1, 2, 3, 4].slice(from));
    expect(await readAll(channel, 5)).toEqual([]);
    expect(await readAll(channel, 1_000)).toEqual([]);
    expect(await readAll({ sessionId: "session_never", io: "OUT" })).toEqual([]);
  });

  it("reads at most `limit` records", async () => {
    const channel = await newChannel();
    await append(channel, Array.from({ length: 10 }, (_, i) => i));
    expect(seqNums(await target.store.read(channel, 0, 3))).toEqual([0, 1, 2]);
    expect(seqNums(await target.store.read(channel, 8, 3))).toEqual([8, 9]);
    expect(seqNums(await target.store.read(channel, 4, 1))).toEqual([4]);
  });

  it("reads at most `maxBytes` of records by the store's own measure, but always the first one", async () => {
    const channel = await newChannel();
    const body = "x".repeat(100);
    await append(channel, Array.from({ length: 6 }, () => body));
    const size = traits.readBytes(JSON.stringify(body));
    expect(seqNums(await target.store.read(channel, 0, 100, 3 * size))).toEqual([0, 1, 2]);
    expect(seqNums(await target.store.read(channel, 0, 100, 3 * size - 1))).toEqual([0, 1]);
    expect(seqNums(await target.store.read(channel, 0, 100, 1))).toEqual([0]);
    expect(seqNums(await target.store.read(channel, 4, 100, 3 * size))).toEqual([4, 5]);
    // The count still limits under a large byte cap, and no cap means none.
    expect(seqNums(await target.store.read(channel, 0, 2, 100 * size))).toEqual([0, 1]);
    expect(await target.store.read(channel, 0, 100, undefined)).toHaveLength(6);
  });

  it("reports tail 0 for a channel never appended to", async () => {
    const channel = await newChannel();
    expect(await target.store.tail(channel)).toBe(0);
    expect(await target.store.tail({ sessionId: "session_never", io: "IN" })).toBe(0);
  });

  it("keeps channels independent: the two of a session, and those of different sessions", async () => {
    const out = await newChannel("OUT");
    const inbound = other(out, "IN");
    const elsewhere = await newChannel("OUT");
    await append(out, ["o0", "o1"]);
    expect(await append(inbound, ["i0"])).toMatchObject({ firstSeqNum: 0, tailSeqNum: 1 });
    expect(await append(elsewhere, ["e0"], 0)).toMatchObject({ firstSeqNum: 0, tailSeqNum: 1 });
    expect(await append(out, ["o2"], 2)).toMatchObject({ firstSeqNum: 2, tailSeqNum: 3 });
    expect([await target.store.tail(out), await target.store.tail(inbound), await target.store.tail(elsewhere)]).toEqual([3, 1, 1]);
    expect(datas(await readAll(out))).toEqual(["o0", "o1", "o2"]);
    expect(datas(await readAll(inbound))).toEqual(["i0"]);
    expect(datas(await readAll(elsewhere))).toEqual(["e0"]);
  });

  it("never gives two concurrent appends to one channel the same seqNum, nor skips one", async () => {
    const channel = await newChannel();
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => append(channel, [`${i}-a`, `${i}-b`, `${i}-c`])));
    const ranges = acks.map((a) => [a.firstSeqNum, a.lastSeqNum]).sort((x, y) => x[0]! - y[0]!);
    expect(ranges).toEqual(Array.from({ length: 20 }, (_, i) => [i * 3, i * 3 + 2]));
    const stored = await readAll(channel);
    expect(seqNums(stored)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // Each append's records are contiguous, in its order, where its ack says.
    for (const [i, ack] of acks.entries()) {
      expect(datas(stored.slice(ack.firstSeqNum, ack.lastSeqNum + 1))).toEqual([`${i}-a`, `${i}-b`, `${i}-c`]);
    }
    expect(await target.store.tail(channel)).toBe(60);
  });

  if (traits.follows) {
    it("follow: replays from fromSeqNum, then delivers each record appended after it started, in order; ends once aborted", async () => {
      const channel = await newChannel();
      await append(channel, ["a", "b"]);
      const abort = new AbortController();
      const records = target.follow!(channel, 1, abort.signal)[Symbol.asyncIterator]();
      // The replayed record arriving shows the follow has started.
      expect((await records.next()).value).toMatchObject({ seqNum: 1, data: "b" });
      const live = (async () => {
        const got: StoredRecord[] = [];
        while (got.length < 3) got.push((await records.next()).value as StoredRecord);
        return got;
      })();
      await append(channel, ["c"]);
      await append(channel, ["d", "e"]);
      expect((await live).map((r) => [r.seqNum, r.data])).toEqual([
        [2, "c"],
        [3, "d"],
        [4, "e"],
      ]);
      const pending = records.next();
      abort.abort();
      expect(await pending).toEqual({ done: true, value: undefined });
      // Nothing more comes after the abort, appends or not.
      await append(channel, ["f"]);
      expect(await records.next()).toEqual({ done: true, value: undefined });
    });

    it("follow from past the tail delivers records from fromSeqNum on only", async () => {
      const channel = await newChannel();
      await append(channel, ["a"]);
      const abort = new AbortController();
      const records = target.follow!(channel, 3, abort.signal)[Symbol.asyncIterator]();
      const first = records.next();
      await append(channel, ["b", "c", "d", "e"]);
      expect((await first).value).toMatchObject({ seqNum: 3, data: "d" });
      abort.abort();
      await records.return?.();
    });
  } else {
    it("has no follow of its own: live delivery is the fan-out's, woken by the writer's append notices", () => {
      expect(target.follow).toBeUndefined();
    });
  }

  it("writer: a closed session refuses appends with SESSION_CLOSED, with or without an idempotency key, and its channels keep what they had", async () => {
    const channel = await newChannel();
    await target.writer.append(channel.session, "OUT", ["before"]);
    expect((await gql(CLOSE, { id: channel.sessionId })).errors).toBeUndefined();
    for (const io of ["OUT", "IN"] as const) {
      for (const idempotencyKey of [undefined, "after-close"]) {
        await expect(target.writer.append(channel.session, io, ["after"], { idempotencyKey })).rejects.toMatchObject({ extensions: { code: "SESSION_CLOSED" } });
      }
    }
    expect(datas(await readAll(channel))).toEqual(["before"]);
    expect(await target.store.tail(other(channel, "IN"))).toBe(0);
  });

  it("writer: the same idempotency key returns the original seqNums, deduplicated, and stores the records once", async () => {
    const channel = await newChannel();
    const { writer } = target;
    const first = await writer.append(channel.session, "OUT", ["a", "b"], { idempotencyKey: "k1" });
    expect(first).toMatchObject({ firstSeqNum: 0, lastSeqNum: 1, tailSeqNum: 2, deduplicated: false });
    await writer.append(channel.session, "OUT", ["c"]);
    // A retry (even with other records) is answered with the original seqNums and today's tail.
    const retry = await writer.append(channel.session, "OUT", ["a", "b", "changed"], { idempotencyKey: "k1" });
    expect(retry).toMatchObject({ firstSeqNum: 0, lastSeqNum: 1, tailSeqNum: 3, deduplicated: true });
    // Keys are per channel: the same key on the other channel is a new append.
    expect(await writer.append(channel.session, "IN", ["i"], { idempotencyKey: "k1" })).toMatchObject({ firstSeqNum: 0, deduplicated: false });
    // Concurrent retries of one new key: one stores, the others are answered with its seqNums.
    const burst = await Promise.all(Array.from({ length: 5 }, () => writer.append(channel.session, "OUT", ["d"], { idempotencyKey: "k2" })));
    expect(burst.filter((r) => !r.deduplicated)).toHaveLength(1);
    expect(new Set(burst.map((r) => `${r.firstSeqNum}-${r.lastSeqNum}`))).toEqual(new Set(["3-3"]));
    expect(datas(await readAll(channel))).toEqual(["a", "b", "c", "d"]);
    expect(datas(await readAll(other(channel, "IN")))).toEqual(["i"]);
  });

  it("writer: a key is remembered for limits.idempotencyKeyTtlMs; a forgotten one still stored is a new append", async () => {
    const channel = await newChannel();
    const { writer } = target;
    await writer.append(channel.session, "OUT", ["a"], { idempotencyKey: "old" });
    // As if a day had passed and the housekeeping sweep had not yet removed the key.
    const forgotten = await target.server.services.prisma.$executeRaw`
      UPDATE append_keys SET created_at = now() - interval '25 hours' WHERE session_id = ${channel.sessionId} AND key = 'old'`;
    expect(forgotten).toBe(1);
    expect(await writer.append(channel.session, "OUT", ["b"], { idempotencyKey: "old" })).toMatchObject({ firstSeqNum: 1, deduplicated: false });
    // Remembered again from this append on.
    expect(await writer.append(channel.session, "OUT", ["c"], { idempotencyKey: "old" })).toMatchObject({ firstSeqNum: 1, deduplicated: true });
    expect(datas(await readAll(channel))).toEqual(["a", "b"]);
  });

  it("writer: matchSeqNum is the store's check, with or without an idempotency key", async () => {
    const channel = await newChannel();
    const { writer } = target;
    await writer.append(channel.session, "OUT", ["a"], { matchSeqNum: 0 });
    await writer.append(channel.session, "OUT", ["b"], { matchSeqNum: 1, idempotencyKey: "m1" });
    for (const idempotencyKey of [undefined, "m2"]) {
      await expect(writer.append(channel.session, "OUT", ["never"], { matchSeqNum: 1, idempotencyKey })).rejects.toMatchObject({
        extensions: { code: "SEQ_NUM_MISMATCH", tailSeqNum: 2 },
      });
    }
    // A refused append leaves its key unused: the retry with the right tail stores.
    expect(await writer.append(channel.session, "OUT", ["c"], { matchSeqNum: 2, idempotencyKey: "m2" })).toMatchObject({ firstSeqNum: 2, deduplicated: false });
    expect(datas(await readAll(channel))).toEqual(["a", "b", "c"]);
  });

  it("writer: concurrent appends, with and without idempotency keys, get dense seqNums", async () => {
    const channel = await newChannel();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => target.writer.append(channel.session, "IN", [i, i], { idempotencyKey: i % 2 ? `c${i}` : undefined })),
    );
    const ranges = results.map((r) => [r.firstSeqNum, r.lastSeqNum]).sort((x, y) => x[0]! - y[0]!);
    expect(ranges).toEqual(Array.from({ length: 12 }, (_, i) => [i * 2, i * 2 + 1]));
    expect(await target.store.tail(other(channel, "IN"))).toBe(24);
  });

  const trimmedAt = (head: number) => ({ extensions: { code: "RECORDS_TRIMMED", headSeqNum: head } });
  /** What a trim adds at the tail: S2's command record, or nothing. */
  const trimCost = traits.trimTakesSeqNum ? 1 : 0;

  it("trim: moves the head, never back and never past the tail; below it reads fail with RECORDS_TRIMMED and the head, from it they go on; seqNums are not reused", async () => {
    const channel = await newChannel();
    await append(channel, Array.from({ length: 10 }, (_, i) => `r${i}`));
    expect(await target.store.head(channel)).toBe(0);
    expect(await target.store.trim(channel, 4)).toEqual({ previousHead: 0, head: 4 });
    expect(await target.store.head(channel)).toBe(4);
    for (const from of [0, 3]) {
      await expect(target.store.read(channel, from, 10)).rejects.toMatchObject(trimmedAt(4));
      // The byte-capped read (the fan-out's) decides the same way.
      await expect(target.store.read(channel, from, 10, 1_000_000)).rejects.toMatchObject(trimmedAt(4));
    }
    expect(datas(await readAll(channel, 4))).toEqual(["r4", "r5", "r6", "r7", "r8", "r9"]);
    expect(seqNums(await target.store.read(channel, 4, 2, 1_000_000))).toEqual([4, 5]);
    // Never back.
    expect(await target.store.trim(channel, 2)).toEqual({ previousHead: 4, head: 4 });
    const tail = 10 + trimCost;
    expect(await target.store.tail(channel)).toBe(tail);
    // Appends go on at the tail: no seqNum is handed out twice.
    expect(await append(channel, ["later"])).toMatchObject({ firstSeqNum: tail });
    // Never past the tail: a trim beyond it empties the channel, and the head stays put at the tail.
    const before = await target.store.tail(channel);
    expect(await target.store.trim(channel, 1_000_000)).toEqual({ previousHead: 4, head: before });
    expect(await target.store.tail(channel)).toBe(before + trimCost);
    expect(await target.store.head(channel)).toBe(before);
    expect(await readAll(channel, before)).toEqual([]);
    await expect(readAll(channel, before - 1)).rejects.toMatchObject(trimmedAt(before));
    // Again at the tail: nothing is stored, so nothing changes (no further command on S2 either).
    expect(await target.store.trim(channel, 1_000_000)).toEqual({ previousHead: before, head: before });
    expect(await target.store.tail(channel)).toBe(before + trimCost);
    const next = await append(channel, ["after"]);
    expect(next.firstSeqNum).toBe(before + trimCost);
    expect(datas(await readAll(channel, before))).toEqual(["after"]);
  });

  it("trim: a channel never appended to stays at 0; the other channel of the session is untouched", async () => {
    const channel = await newChannel();
    expect(await target.store.trim(channel, 5)).toEqual({ previousHead: 0, head: 0 });
    expect([await target.store.head(channel), await target.store.tail(channel)]).toEqual([0, 0]);
    await append(channel, ["o0", "o1"]);
    const inbound = other(channel, "IN");
    await append(inbound, ["i0", "i1"]);
    await target.store.trim(channel, 1);
    expect(datas(await readAll(inbound))).toEqual(["i0", "i1"]);
    expect(await target.store.head(inbound)).toBe(0);
  });

  it("trim racing appends: nothing above the head is lost, no seqNum is given twice, the head only moves forward", async () => {
    const channel = await newChannel();
    await append(channel, ["seed"]);
    const heads: number[] = [];
    /** What finished, in order: "a" an append, "t" a trim. */
    const finished: string[] = [];
    let trimsDone = false;
    let appended: () => void = () => {};
    const nextAppend = () => new Promise<void>((resolve) => (appended = resolve));
    // Appends, three at a time, for as long as the trims go on (and at least ten rounds).
    const appends = (async () => {
      const acks: { i: number; ack: AppendAck }[] = [];
      for (let round = 0; round < 10 || !trimsDone; round++) {
        const batch = await Promise.all(
          [0, 1, 2].map(async (j) => {
            const i = round * 3 + j;
            const ack = await append(channel, [`${i}-a`, `${i}-b`]);
            finished.push("a");
            appended();
            return { i, ack };
          }),
        );
        acks.push(...batch);
      }
      return acks;
    })();
    // Each trim starts once another append has finished, with more appends in flight: the two
    // interleave however the store schedules its statements (PGlite runs one at a time).
    const trims = (async () => {
      for (let k = 0; k < 10; k++) {
        await nextAppend();
        const tail = await target.store.tail(channel);
        heads.push((await target.store.trim(channel, Math.max(0, tail - 3))).head);
        finished.push("t");
      }
      trimsDone = true;
    })();
    const [acks] = await Promise.all([appends, trims]);
    // The race happened: appends finished between trims, not all before or after them.
    const order = finished.join("");
    expect(order.indexOf("a", order.indexOf("t"))).toBeGreaterThan(-1);
    expect(order.indexOf("t", order.indexOf("a"))).toBeGreaterThan(-1);
    expect(order.slice(order.indexOf("t"), order.lastIndexOf("t"))).toContain("a");
    expect([...heads].sort((a, b) => a - b)).toEqual(heads);
    const head = await target.store.head(channel);
    const stored = await readAll(channel, head);
    const bySeqNum = new Map(stored.map((r) => [r.seqNum, r.data]));
    // No seqNum given twice: the acks' ranges do not overlap.
    const ranges = acks.map(({ ack }) => [ack.firstSeqNum, ack.lastSeqNum]).sort((x, y) => x[0]! - y[0]!);
    for (let j = 1; j < ranges.length; j++) expect(ranges[j]![0]).toBeGreaterThan(ranges[j - 1]![1]!);
    // Every record of every append at or above the head is there, where its ack put it, once.
    for (const { i, ack } of acks) {
      if (ack.firstSeqNum >= head) expect([bySeqNum.get(ack.firstSeqNum), bySeqNum.get(ack.lastSeqNum)]).toEqual([`${i}-a`, `${i}-b`]);
    }
    expect(new Set(seqNums(stored)).size).toBe(stored.length);
    expect(stored.length).toBeGreaterThan(0);
  });

  it("seqNumAt: the first record stored at or after a time, else the tail", async () => {
    const channel = await newChannel();
    await append(channel, ["early-0", "early-1"]);
    const [early] = await readAll(channel);
    // Waits for the clock (not a guessed sleep) so that the next append is stamped later.
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(early!.timestamp.getTime() + 1), { interval: 1 });
    await append(channel, ["late"]);
    expect(await target.store.seqNumAt(channel, new Date(0))).toBe(0);
    expect(await target.store.seqNumAt(channel, early!.timestamp)).toBe(0);
    expect(await target.store.seqNumAt(channel, new Date(early!.timestamp.getTime() + 1))).toBe(2);
    expect(await target.store.seqNumAt(channel, new Date(Date.now() + 60_000))).toBe(3);
    // From the head on: records below it are not found again.
    await target.store.trim(channel, 1);
    expect(await target.store.seqNumAt(channel, new Date(0))).toBe(1);
    expect(await target.store.seqNumAt({ sessionId: "session_never", io: "OUT" }, new Date(0))).toBe(0);
  });

  it("deleteChannels: both channels of the session go, records and all; others stay; a second time is harmless", async () => {
    const out = await newChannel("OUT");
    const inbound = other(out, "IN");
    const elsewhere = await newChannel("OUT");
    await append(out, ["o0", "o1"]);
    await append(inbound, ["i0"]);
    await append(elsewhere, ["e0"]);
    await target.store.trim(out, 1);
    await target.store.deleteChannels(out.sessionId);
    for (const channel of [out, inbound]) {
      expect(await readAll(channel)).toEqual([]);
      expect([await target.store.head(channel), await target.store.tail(channel)]).toEqual([0, 0]);
    }
    expect(datas(await readAll(elsewhere))).toEqual(["e0"]);
    await target.store.deleteChannels(out.sessionId);
  });
}
