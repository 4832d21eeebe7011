import { setTimeout as sleep } from "node:timers/promises";
import type { Watchers } from "../live/index.js";
import { waitpointStatus, type Waitpoint } from "./waitpoint-service.js";

/** Nothing more will change: the waitpoint has ended, and its callback (if any) is delivered or given up. */
const settled = (w: Waitpoint) => waitpointStatus(w) !== "PENDING" && (!w.callback || w.callback.status !== "PENDING");

/** What a subscriber is told about: the waitpoint's status, and its callback's attempts and status. */
const changedFrom = (a: Waitpoint, b: Waitpoint) =>
  waitpointStatus(a) !== waitpointStatus(b) || a.callback?.status !== b.callback?.status || a.callback?.attempts !== b.callback?.attempts;

/** A waitpoint's changes as they happen; `stop` ends them from outside (the subscriber went away). */
export interface WaitpointChanges extends AsyncGenerator<Waitpoint> {
  /** The waitpoint as first found: what the stream yields first. */
  readonly first: Waitpoint;
  stop(): void;
}

/**
 * The waitpoint as `first` finds it, then once more when it completes or times out; with a
 * callback, then after each delivery attempt until it is delivered or given up; then the stream
 * ends. Null when `first` finds nothing (it decides what the caller may see). The watch (of the
 * waitpoint's signal topic) is registered before `first` runs, so a change in between is not
 * missed (the callback deliverer publishes the same `waitpoint` signal after each attempt as
 * completions and timeouts do).
 */
export async function waitpointChanges(
  watchers: Watchers,
  topic: string,
  first: () => Promise<Waitpoint | null>,
  reload: (w: Waitpoint) => Promise<Waitpoint | null>,
): Promise<WaitpointChanges | null> {
  const ticks = watchers.watch(topic);
  let initial: Waitpoint | null;
  try {
    initial = await first();
  } catch (error) {
    await ticks.return();
    throw error;
  }
  if (!initial) {
    await ticks.return();
    return null;
  }
  const start = initial;
  const deadline = new AbortController();
  async function* changes(): AsyncGenerator<Waitpoint> {
    try {
      let last = start;
      yield last;
      if (settled(last)) return;
      // Wakes the loop at the deadline even if no sweeper signal arrives.
      if (waitpointStatus(last) === "PENDING") {
        void sleep(Math.max(0, last.timeoutAt.getTime() - Date.now()) + 5, undefined, { signal: deadline.signal })
          .then(() => ticks.push())
          .catch(() => {});
      }
      while (!(await ticks.next()).done) {
        const current = await reload(start);
        if (!current || !changedFrom(last, current)) continue;
        last = current;
        yield current;
        if (settled(current)) return;
      }
    } finally {
      deadline.abort();
      await ticks.return();
    }
  }
  return Object.assign(changes(), {
    first: start,
    stop() {
      deadline.abort();
      void ticks.return();
    },
  });
}
