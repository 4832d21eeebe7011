import { describe, expect, it } from "vitest";
import { appendTo } from "./helpers/memory-store.js";
import { MemoryStreamStore } from "../src/channels/memory-stream-store.js";
import type { ChannelKey, StoredRecord } from "../src/channels/stream-store.js";
import { ChannelFanout } from "../src/live/channel-fanout.js";
import { LocalSignals } from "../src/live/signals.js";

/**
 * The fan-out meeting a trim it cannot see coming (issue #15), on the reference memory store:
 * a subscriber replaying from below a head that moved mid-replay, and a follower whose pending
 * read a trim overtakes. The moments are made exact by holding one read of the store at a gate,
 * so nothing here depends on timing. Through the API, tests/lifecycle.test.ts.
 */
class GatedStore extends MemoryStreamStore {
  private gate: { reached: () => void; release: Promise<void> } | undefined;


  /** The next read waits at the gate: resolves once one is waiting there; call the result to let it go. */
  holdNextRead(): Promise<() => void> {
    let open!: () => void;
    const release = new Promise<void>((r) => (open = r));
    return new Promise((reached) => {
      this.gate = { reached: () => reached(open), release };
    });
  }

  override async read(c: ChannelKey, from: number, limit: number, maxBytes?: number): Promise<StoredRecord[]> {
    const gate = this.gate;
    if (gate) {
      this.gate = undefined;
      gate.reached();
      await gate.release;
    }
    return super.read(c, from, limit, maxBytes);
  }
}

const channel: ChannelKey = { sessionId: "session_trimmed", io: "OUT" };

function setup(readBatch: number) {
  const store = new GatedStore();
  const signals = new LocalSignals();
  const errors: unknown[] = [];
  const fanout = new ChannelFanout(store, signals, { subscriberBuffer: 100, readBatch }, (e) => errors.push(e));
  /** Appended by a writer elsewhere: only the signal reaches this fan-out, so its follower reads. */
  const append = async (...data: unknown[]) => {
    const ack = await appendTo(store, channel, data);
    signals.publish({ kind: "append", ...channel, tail: ack.tailSeqNum });
  };
  return { store, fanout, append, errors };
}

async function take(it: AsyncIterator<StoredRecord>, n: number) {
  const out: number[] = [];
  while (out.length < n) out.push((await it.next()).value.seqNum);
  return out;
}

describe("fan-out and trims", () => {
  it("a subscriber replaying from below a head that moved mid-replay gets RECORDS_TRIMMED with the head, after the records it had", async () => {
    const { store, fanout, append, errors } = setup(3);
    await append(...Array.from({ length: 10 }, (_, i) => i));
    // The first replay read (0-2) is held until the gate for the second is set, then passes.
    const first = store.holdNextRead();
    const sub = fanout.subscribe(channel, 0, async () => false);
    const releaseFirst = await first;
    const second = store.holdNextRead();
    releaseFirst();
    expect(await take(sub, 3)).toEqual([0, 1, 2]);
    const releaseSecond = await second;
    expect(await store.trim(channel, 6)).toEqual({ previousHead: 0, head: 6 });
    releaseSecond();
    await expect(sub.next()).rejects.toMatchObject({ extensions: { code: "RECORDS_TRIMMED", headSeqNum: 6 } });
    // An expected outcome, not a failure of the service: nothing logged.
    expect(errors).toEqual([]);
  });

  it("a trim overtaking the follower's read: live subscribers still below the head are told, never skipped; below what they have, no one notices", async () => {
    const { store, fanout, append, errors } = setup(100);
    const sub = fanout.subscribe(channel, 0, async () => false);
    await waitLive(fanout);
    await append("a", "b", "c");
    expect(await take(sub, 3)).toEqual([0, 1, 2]);

    // A trim below the follower's position while its read is held: delivery goes on untouched.
    let release = await holdDuring(store, () => append("d", "e"));
    await store.trim(channel, 2);
    release();
    expect(await take(sub, 2)).toEqual([3, 4]);

    // A trim past records the follower has not read yet: the subscriber learns it, with the head.
    release = await holdDuring(store, () => append("f", "g", "h"));
    await store.trim(channel, 7);
    release();
    await expect(sub.next()).rejects.toMatchObject({ extensions: { code: "RECORDS_TRIMMED", headSeqNum: 7 } });

    // The follower went on from the head: a new subscriber from there is served.
    const fresh = fanout.subscribe(channel, 7, async () => false);
    expect(await take(fresh, 1)).toEqual([7]);
    await append("i");
    expect(await take(fresh, 1)).toEqual([8]);
    expect(errors).toEqual([]);
  });
});

/** Waits until the channel's subscribers are live (caught up, fed by the follower). */
async function waitLive(fanout: ChannelFanout) {
  while ((await fanout.liveSubscribers(channel)) === 0) await new Promise((r) => setImmediate(r));
}

/** Holds the store read that `act` causes (the follower's pump) at the gate; resolves to its release. */
async function holdDuring(store: GatedStore, act: () => Promise<void>) {
  const held = store.holdNextRead();
  await act();
  return held;
}
