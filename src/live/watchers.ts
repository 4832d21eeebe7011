import { ApiError } from "../errors/index.js";
import { limits } from "../limits.js";
import { AsyncQueue } from "./async-queue.js";
import { topicOf, type Signals } from "./signals.js";

/**
 * Tells watchers that a thing changed, in this process or another. Ticks carry no data: the
 * watcher reads the thing afresh, so it never shows a stale copy. Watchers name signal topics
 * (`topics.session(id)`, `topics.waitpoint(id)`); each watch listens to its topic while it lasts.
 */
export class Watchers {
  private watchers = new Map<string, Set<AsyncQueue<void>>>();
  private unsubscribe: () => void;

  constructor(private signals: Signals) {
    this.unsubscribe = signals.subscribe((signal) => {
      // Other processes' changes may have gone unheard: every watcher reads its thing again.
      if (signal.kind === "missed") for (const set of this.watchers.values()) for (const q of set) q.push();
      const topic = topicOf(signal);
      if (topic === undefined) return;
      for (const q of this.watchers.get(topic) ?? []) q.push();
    });
  }

  /** Watches open now, over all topics: what a leak would grow. */
  get size(): number {
    let n = 0;
    for (const set of this.watchers.values()) n += set.size;
    return n;
  }

  /**
   * Ticks for each change of `topic`'s thing from now on, and one more once other processes' changes
   * are heard too (one of theirs in between would otherwise go unseen): a watcher that re-reads on
   * a tick must expect ticks that change nothing.
   */
  watch(topic: string): AsyncQueue<void> {
    const set = this.watchers.get(topic) ?? new Set();
    this.watchers.set(topic, set);
    const listening = this.signals.listen(topic);
    const queue: AsyncQueue<void> = new AsyncQueue<void>(
      limits.watcherBuffer,
      () => new ApiError("RATE_LIMITED", "subscriber too slow"),
      () => {
        listening.release();
        set.delete(queue);
        if (set.size === 0) this.watchers.delete(topic);
      },
    );
    set.add(queue);
    void listening.ready?.then(() => {
      if (!queue.closed) queue.push();
    });
    return queue;
  }

  close() {
    this.unsubscribe();
    for (const set of this.watchers.values()) for (const q of set) q.end();
  }
}
