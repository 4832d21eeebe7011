import type { ClickHouseClient } from "@clickhouse/client";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { LeaderLock } from "./leader-lock.js";
import { ReplicationMetrics } from "./replication-metrics.js";
import { SessionReplicator, type ReplicatorOptions } from "./session-replicator.js";

export interface ReplicationServiceOptions extends ReplicatorOptions {
  /** How often the leader renews its lock; followers retry at the same pace. */
  leaderRenewMs: number;
}

/**
 * Runs the replicator in exactly one process: whoever holds the leader lock consumes the slot;
 * the others wait and take over within a renewal period or two when the leader dies.
 */
export class ReplicationService {
  readonly metrics = new ReplicationMetrics();
  private replicator: SessionReplicator;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private refusals = 0;

  constructor(
    private options: ReplicationServiceOptions,
    clickhouse: ClickHouseClient,
    private lock: LeaderLock,
    private logger: Logger,
  ) {
    this.replicator = new SessionReplicator(options, clickhouse, logger, this.metrics);
  }

  start() {
    this.loop ??= this.lead();
  }

  private async lead() {
    while (!this.stopped) {
      let acquired = false;
      try {
        acquired = await this.lock.tryAcquire();
        if (!acquired) this.refusals++;
      } catch (error) {
        this.logger.warn({ err: error }, "leader lock unavailable");
      }
      if (!acquired) {
        await sleep(this.options.leaderRenewMs);
        continue;
      }
      this.metrics.leader = true;
      this.logger.info({ slot: this.options.slot }, "replication leader: consuming the slot");
      const renewer = setInterval(() => {
        void this.lock.renew().then(
          (held) => {
            if (!held) {
              this.logger.warn("replication leadership lost");
              void this.replicator.stop();
            }
          },
          () => void this.replicator.stop(),
        );
      }, this.options.leaderRenewMs);
      try {
        await this.replicator.ensureSlot();
        // stop() may have come while the slot was prepared (the initial copy can take a while);
        // run() would then start a stream that nothing stops.
        if (!this.stopped) {
          this.metrics.streaming = true;
          await this.replicator.run();
        }
      } catch (error) {
        if (!this.stopped) {
          this.metrics.recordError(error);
          this.logger.error({ err: error }, "replication stopped; restarting");
        }
      } finally {
        clearInterval(renewer);
        this.metrics.leader = this.metrics.streaming = false;
        await this.replicator.stop();
        await this.lock.release().catch(() => {});
      }
      if (!this.stopped) await sleep(this.options.leaderRenewMs);
    }
  }

  /**
   * Test hook: how many times this process asked for the leader lock and was refused (another
   * process leads; a lock store that did not answer is not counted). Tests wait for refusals to
   * show that a follower stays one, instead of sleeping and checking it did not take over.
   */
  get leaderLockRefusals(): number {
    return this.refusals;
  }

  /** Waits until every committed change has reached ClickHouse (tests, benchmarks, shutdown). */
  flush() {
    return this.replicator.flush();
  }

  async stop() {
    this.stopped = true;
    await this.replicator.stop();
    await this.loop?.catch(() => {});
  }
}
