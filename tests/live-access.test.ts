import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { LiveAccess, LiveRefusal, type LiveCaller } from "../src/auth/live-access.js";
import { grantsFromScopes } from "../src/auth/scopes.js";
import { AsyncQueue } from "../src/live/async-queue.js";
import { LocalSignals } from "../src/live/signals.js";

const caller = (): LiveCaller => ({
  principal: { environmentId: "env", grants: grantsFromScopes(["read:all"]), credential: { kind: "token", issuedAt: 1, expiresAt: Infinity } },
  reauthenticate: async () => ({ principal: null, failure: "unused" }),
});

function liveAccess() {
  const signals = new LocalSignals();
  const live = new LiveAccess(signals, async () => null, (error) => {
    throw error;
  });
  return { live, revoke: () => signals.publish({ kind: "revoke", environmentId: "env", before: Date.now() }) };
}

/** A full collection, for a heap figure that holds only what is still referenced. */
function collectGarbage() {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("live access guard", () => {
  it("answers a read that waits with the refusal when the caller's rights end, whatever the source", async () => {
    const sources = {
      // A channel's records: returning the queue answers its waiting read.
      queue: () => new AsyncQueue<number>(10, () => new Error("overflow")),
      // A generator waiting on something else: it answers nothing until that settles.
      generator: () =>
        (async function* () {
          await new Promise<never>(() => {});
          yield 1;
        })(),
    };
    for (const [kind, source] of Object.entries(sources)) {
      const { live, revoke } = liveAccess();
      const guarded = live.guard(caller(), source(), { sessionId: "s" });
      const waiting = guarded.next();
      revoke();
      const { value, done } = await waiting;
      expect(done, kind).toBe(false);
      expect(value, kind).toBeInstanceOf(LiveRefusal);
      expect((value as LiveRefusal).error.extensions.code, kind).toBe("UNAUTHENTICATED");
      expect(await guarded.next(), kind).toEqual({ value: undefined, done: true });
      live.close();
    }
  });

  it("keeps nothing of the events it has delivered (no reaction left per read)", async () => {
    // Each read once raced a promise that never settles: ~350 bytes kept per event per subscriber.
    const events = 200_000;
    const { live } = liveAccess();
    const queue = new AsyncQueue<number>(10, () => new Error("overflow"));
    let n = 0;
    const fromQueue = live.guard(caller(), queue, { sessionId: "s" });
    const fromIterator = live.guard(caller(), { next: async () => ({ value: n++, done: false }) }, { sessionId: "s" });
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < events; i++) {
      queue.push(i);
      await fromQueue.next();
      await fromIterator.next();
    }
    collectGarbage();
    const kept = process.memoryUsage().heapUsed - before;
    expect(kept).toBeLessThan(10 * 2 ** 20);
    live.close();
  });
});
