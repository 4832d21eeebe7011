import { AsyncQueue } from "./async-queue.js";
import { ApiError } from "../errors.js";
import type { Signals } from "./signals.js";

/**
 * Tells watchers that a session changed (updated or closed), in this process or another. Ticks
 * carry no data: the watcher reads the session afresh, so it never shows a stale copy.
 */
export class SessionWatch {
  private watchers = new Map<string, Set<AsyncQueue<void>>>();
  private unsubscribe: () => void;

  constructor(private signals: Signals) {
    this.unsubscribe = signals.subscribe((signal) => {
      if (signal.kind !== "session") return;
      for (const q of this.watchers.get(signal.sessionId) ?? []) q.push();
    });
  }

  changed(session: { id: string; closedAt: Date | null }) {
    this.signals.publish({ kind: "session", sessionId: session.id, closed: session.closedAt !== null });
  }

  watch(sessionId: string): AsyncQueue<void> {
    const set = this.watchers.get(sessionId) ?? new Set();
    this.watchers.set(sessionId, set);
    const queue: AsyncQueue<void> = new AsyncQueue<void>(
      1_000,
      () => new ApiError("RATE_LIMITED", "subscriber too slow"),
      () => {
        set.delete(queue);
        if (set.size === 0) this.watchers.delete(sessionId);
      },
    );
    set.add(queue);
    return queue;
  }

  close() {
    this.unsubscribe();
    for (const set of this.watchers.values()) for (const q of set) q.end();
  }
}
