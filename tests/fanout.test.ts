import { describe, expect, it, vi } from "vitest";
import { ChannelFanout, type FanoutOptions } from "../src/live/channel-fanout.js";
import { LocalSignals } from "../src/live/signals.js";
import { appendTo } from "./helpers/memory-store.js";
import { MemoryStreamStore } from "../src/channels/memory-stream-store.js";
import type { ChannelKey, StoredRecord } from "../src/channels/stream-store.js";

/**
 * The reference memory store, counting its reads: unit tests of the fan-out logic only;
 * integration tests use the real stores. The fan-out is given no `follow`, as for the local store: it
 * then reads only when told of appends, which the read counts below rely on.
 */
class MemoryStore extends MemoryStreamStore {
  reads = 0;
  /** Each read: the byte cap it was given and the bytes of JSON it returned. */
  readLog: { maxBytes: number | undefined; bytes: number; count: number }[] = [];
  override async read(c: ChannelKey, from: number, limit: number, maxBytes?: number): Promise<StoredRecord[]> {
    this.reads++;
    // A read takes a turn of the event loop, as a real store's round trip does, so appends land
    // during reads. Simulated latency, not a wait for anything: no timer needed.
    await new Promise((r) => setImmediate(r));
    const out = await super.read(c, from, limit, maxBytes);
    const bytes = out.reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r.data)), 0);
    this.readLog.push({ maxBytes: maxBytes !== undefined && Number.isFinite(maxBytes) ? maxBytes : undefined, bytes, count: out.length });
    return out;
  }
}

const channel: ChannelKey = { sessionId: "session_x", io: "OUT" };

function setup(subscriberBuffer = 100, options: Partial<FanoutOptions> = {}) {
  const store = new MemoryStore();
  const signals = new LocalSignals();
  const fanout = new ChannelFanout(store, signals, { subscriberBuffer, readBatch: 7, ...options }, (e) => {
    throw e;
  });
  const append = async (...data: unknown[]) => {
    const ack = await appendTo(store, channel, data);
    signals.publish({ kind: "append", ...channel, tail: ack.tailSeqNum });
  };
  return { store, signals, fanout, append };
}

/**
 * Resolves once `n` subscribers of the channel are live (caught up and fed by the follower): a
 * subscription without fromSeqNum starts at the tail as of then, so tests append after this.
 */
const live = (fanout: ChannelFanout, n: number) =>
  vi.waitFor(async () => expect(await fanout.liveSubscribers(channel)).toBe(n), { timeout: 10_000, interval: 1 });

/** Resolves once the fan-out has dropped every follower (subscribers gone, followers stopped). */
const noFollowers = (fanout: ChannelFanout) => vi.waitFor(() => expect(fanout.followerCount).toBe(0), { timeout: 10_000, interval: 1 });

async function take(it: AsyncIterator<StoredRecord>, n: number) {
  const out: number[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value.seqNum);
  }
  return out;
}

describe("channel fan-out", () => {
  it("switches from replay to live without gap or duplicate while appends keep coming", async () => {
    const { fanout, append } = setup();
    await append(...Array.from({ length: 30 }, (_, i) => i));
    const its = [0, 10, 29].map((from) => fanout.subscribe(channel, from, async () => false));
    const writer = (async () => {
      for (let i = 30; i < 80; i++) await append(i);
    })();
    const results = await Promise.all(its.map((it, i) => take(it, 80 - [0, 10, 29][i]!)));
    await writer;
    results.forEach((seqs, i) => expect(seqs).toEqual(Array.from({ length: 80 - [0, 10, 29][i]! }, (_, k) => k + [0, 10, 29][i]!)));
    expect(fanout.followerCount).toBe(1);
    await Promise.all(its.map((it) => it.return?.()));
    await noFollowers(fanout);
  });

  it("leaves no follower behind when a subscriber leaves before it was set up", async () => {
    const { fanout } = setup();
    const it = fanout.subscribe(channel, undefined, async () => false);
    // The follower is being made (its tail read is in flight) when the subscriber leaves.
    expect(fanout.followerCount).toBe(1);
    await it.return?.();
    await noFollowers(fanout);
  });

  it("reads each live record from the store once, whatever the number of subscribers", async () => {
    const { store, fanout, append } = setup();
    const its = Array.from({ length: 50 }, () => fanout.subscribe(channel, undefined, async () => false));
    await live(fanout, 50);
    const before = store.reads;
    await append("a");
    const got = await Promise.all(its.map((it) => take(it, 1)));
    expect(got.every((g) => g[0] === 0)).toBe(true);
    expect(store.reads - before).toBe(1);
  });

  it("hands records appended in this process straight to subscribers, and reads only when one is out of turn", async () => {
    const { store, signals, fanout } = setup();
    const its = Array.from({ length: 3 }, () => fanout.subscribe(channel, undefined, async () => false));
    await live(fanout, 3);
    const appendHere = async (...data: unknown[]) => {
      const ack = { ...(await appendTo(store, channel, data)), timestamp: new Date() };
      fanout.appended(channel, ack, data);
      signals.publish({ kind: "append", ...channel, tail: ack.tailSeqNum });
      return ack;
    };
    const before = store.reads;
    await appendHere("a", "b");
    expect(await Promise.all(its.map((it) => take(it, 2)))).toEqual(its.map(() => [0, 1]));
    expect(store.reads).toBe(before);
    // Appends whose notices arrive out of order: the later one cannot go first, so the range is read.
    const first = { ...(await appendTo(store, channel, ["c"])), timestamp: new Date() };
    await appendHere("d");
    fanout.appended(channel, first, ["c"]);
    expect(await Promise.all(its.map((it) => take(it, 2)))).toEqual(its.map(() => [2, 3]));
    expect(store.reads).toBeGreaterThan(before);
  });

  it("hands records to many subscribers a slice at a time, in order, and a close waits for the last slice", async () => {
    const { store, signals, fanout } = setup();
    let closed = false;
    const its = Array.from({ length: 100 }, () => fanout.subscribe(channel, undefined, async () => closed));
    await live(fanout, 100);
    for (const data of ["a", "b", "c"]) {
      const ack = { ...(await appendTo(store, channel, [data])), timestamp: new Date() };
      fanout.appended(channel, ack, [data]);
    }
    closed = true;
    signals.publish({ kind: "session", sessionId: channel.sessionId, closed: true });
    // Every subscriber gets all three, in order, and then its end: none is cut short by the close.
    expect(await Promise.all(its.map((it) => take(it, 10)))).toEqual(its.map(() => [0, 1, 2]));
  });

  it("cuts off a subscriber that does not keep up, without touching the others", async () => {
    const { fanout, append } = setup(10);
    const slow = fanout.subscribe(channel, undefined, async () => false);
    const fast = fanout.subscribe(channel, undefined, async () => false);
    await live(fanout, 2);
    const fastSeen = take(fast, 30);
    for (let i = 0; i < 30; i++) await append(i);
    expect(await fastSeen).toHaveLength(30);
    await expect(slow.next()).rejects.toMatchObject({ extensions: { code: "RATE_LIMITED" } });
  });

  it("completes subscribers when the session closes, after the last records", async () => {
    const { fanout, append, signals } = setup();
    let closed = false;
    const it = fanout.subscribe(channel, 0, async () => closed);
    await append(1, 2, 3);
    closed = true;
    signals.publish({ kind: "session", sessionId: channel.sessionId, closed: true });
    expect(await take(it, 10)).toEqual([0, 1, 2]);
    // A subscriber arriving after the close replays and completes.
    expect(await take(fanout.subscribe(channel, 1, async () => true), 10)).toEqual([1, 2]);
  });
  it("catches up on small records in reads of the full count, and on large ones in reads capped by bytes", async () => {
    const { store, fanout, append } = setup(10_000, { readBatch: 1_000, replayBatchBytes: 10_000 });
    await append(...Array.from({ length: 1_000 }, (_, i) => i));
    const small = fanout.subscribe(channel, 0, async () => false);
    expect(await take(small, 1_000)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    // 1,000 records of a few bytes each: one read, not one per worst-case-sized batch.
    expect(store.readLog).toHaveLength(1);
    expect(store.readLog[0]).toMatchObject({ count: 1_000 });
    await small.return?.();

    store.readLog.length = 0;
    const big = "x".repeat(3_000);
    await append(...Array.from({ length: 20 }, () => big), "y".repeat(25_000), "z");
    const late = fanout.subscribe(channel, 1_000, async () => false);
    expect(await take(late, 22)).toEqual(Array.from({ length: 22 }, (_, i) => 1_000 + i));
    // Three 3 kB records fit in 10 kB; the 25 kB one exceeds the cap and still comes, alone.
    expect(store.readLog.every((r) => r.maxBytes !== undefined && r.maxBytes <= 10_000)).toBe(true);
    expect(store.readLog.every((r) => r.bytes <= 10_000 || r.count === 1)).toBe(true);
    expect(store.readLog.map((r) => r.count)).toEqual([3, 3, 3, 3, 3, 3, 2, 1, 1]);
    await late.return?.();
  });

  it("follows with the same count and byte caps as it catches up", async () => {
    const { store, fanout, append } = setup(10_000, { readBatch: 1_000, replayBatchBytes: 10_000 });
    const subscriber = fanout.subscribe(channel, undefined, async () => false);
    // Live before the first append, so the follower (not a replay) reads the first record back.
    const first = take(subscriber, 1);
    await live(fanout, 1);
    await append("first");
    expect(await first).toEqual([0]);
    store.readLog.length = 0;
    await append(...Array.from({ length: 10 }, () => "x".repeat(4_000)));
    expect(await take(subscriber, 10)).toEqual(Array.from({ length: 10 }, (_, i) => 1 + i));
    expect(store.readLog.map((r) => [r.maxBytes, r.count])).toEqual([
      [10_000, 2],
      [10_000, 2],
      [10_000, 2],
      [10_000, 2],
      [10_000, 2],
    ]);
    await subscriber.return?.();
  });
});
