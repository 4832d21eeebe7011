import type { Logger } from "pino";
import type { Sql } from "../db/index.js";
import type { LeaderLock } from "../replication/index.js";

/** One kind of clean-up: deletes up to `limit` rows that are due at `now`, returns how many it deleted. */
export interface SweepTask {
  name: string;
  sweepBatch(sql: Sql, now: Date, limit: number): Promise<number>;
  /**
   * A task that measures rather than deletes (its count is of rows visited, every sweep): its
   * count is logged at debug level, not as deletions at info. Default false.
   */
  measures?: boolean;
}

export interface HousekeepingOptions {
  sql: Sql;
  logger: Pick<Logger, "info" | "warn" | "debug">;
  tasks: SweepTask[];
  /**
   * Taken before each sweep so that one node sweeps at a time; a node that does not get it skips
   * this round. Default: none (a single process, e.g. the embedded default).
   */
  lock?: LeaderLock;
  /** Release the lock after a sweep (a session lock) or let it lapse (a lease that spans the period). Default true. */
  releaseLock?: boolean;
  /** Time between sweeps. Default 60,000 ms. */
  intervalMs?: number;
  /** Rows per DELETE: each statement is short, so no lock is held for long. Default 1,000. */
  batchSize?: number;
  /** Batches per task per sweep, so one sweep always ends; the rest waits for the next. Default 100. */
  maxBatches?: number;
  /** The clock, injectable for tests. Default `() => new Date()`. */
  now?: () => Date;
  /** Told how long each sweep this node made took, and what each task counted (metrics). Default: nothing. */
  onSwept?: (ms: number, counts: Record<string, number>) => void;
}

/**
 * The one sweeper: scheduled clean-up in small batches, by one node at a time. Each kind of work
 * is a SweepTask: retention (src/lifecycle), idempotency keys, finished waitpoints, access grants,
 * storage measurement.
 */
export class Housekeeping {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private options: HousekeepingOptions) {}

  private get intervalMs() {
    return this.options.intervalMs ?? 60_000;
  }

  start() {
    this.timer = setInterval(() => void this.sweepIfLeader(), this.intervalMs);
    this.timer.unref();
  }

  /** One sweep of every task, if this node gets the lock; resolves to the rows deleted per task. */
  async sweepIfLeader(): Promise<Record<string, number> | undefined> {
    if (this.running) return undefined;
    const { lock } = this.options;
    let result: Record<string, number> | undefined;
    this.running = (async () => {
      try {
        if (lock && !(await lock.tryAcquire())) return;
        // A lease (Redis) lasts one period: a sweep that runs longer keeps it, so no other node
        // starts sweeping the same rows meanwhile.
        const renewing = lock && this.options.releaseLock === false ? setInterval(() => void lock.renew().catch(() => {}), this.intervalMs / 3) : undefined;
        try {
          result = await this.sweep();
        } finally {
          clearInterval(renewing);
          if (lock && this.options.releaseLock !== false) await lock.release();
        }
      } catch (error) {
        this.options.logger.warn({ err: error }, "housekeeping sweep failed; retried next round");
      }
    })();
    await this.running;
    this.running = undefined;
    return result;
  }

  /**
   * One sweep of every task, without the lock (tests, or a caller that holds it). A task that
   * fails is logged and left for the next sweep; the tasks after it still run.
   */
  async sweep(): Promise<Record<string, number>> {
    const { sql, tasks, batchSize = 1_000, maxBatches = 100 } = this.options;
    const started = performance.now();
    const now = (this.options.now ?? (() => new Date()))();
    const deleted: Record<string, number> = {};
    for (const task of tasks) {
      let total = 0;
      try {
        for (let i = 0; i < maxBatches; i++) {
          const n = await task.sweepBatch(sql, now, batchSize);
          total += n;
          if (n < batchSize) break;
        }
      } catch (error) {
        this.options.logger.warn({ err: error, task: task.name }, "housekeeping task failed; retried next sweep");
      }
      deleted[task.name] = total;
      if (task.measures) this.options.logger.debug({ task: task.name, measured: total }, "housekeeping");
      else if (total > 0) this.options.logger.info({ task: task.name, deleted: total }, "housekeeping");
    }
    this.options.onSwept?.(performance.now() - started, deleted);
    return deleted;
  }

  async stop() {
    clearInterval(this.timer);
    await this.running;
  }
}
