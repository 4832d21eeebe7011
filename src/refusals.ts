import type { Logger } from "pino";
import type { Counter } from "prom-client";
import type { RefusalReason } from "./limits.js";

export interface RefusalsOptions {
  /** Counts every refusal by reason (`sessions_limit_refusals_total`). */
  counter: Pick<Counter<"reason">, "inc">;
  logger: Pick<Logger, "warn">;
  /** One warn line per client and reason per this period, however many refusals. Default 60,000 ms. */
  logEveryMs?: number;
  /** Clients remembered for throttling; beyond this the oldest are forgotten. Default 10,000. */
  maxClients?: number;
  /** The clock, injectable for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * The one place a refusal by a limit is recorded: a metric for each, and a warn log line per
 * client per minute, so a flood of refused requests cannot flood the logs too.
 */
export class Refusals {
  private lastLogged = new Map<string, { at: number; suppressed: number }>();
  private readonly logEveryMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;

  constructor(private options: RefusalsOptions) {
    this.logEveryMs = options.logEveryMs ?? 60_000;
    this.maxClients = options.maxClients ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** `client` names who was refused without revealing a credential (an IP, a key's hash prefix). */
  record(reason: RefusalReason, client: string, message: string) {
    this.options.counter.inc({ reason });
    const key = `${reason}\u0000${client}`;
    const now = this.now();
    const last = this.lastLogged.get(key);
    if (last && now - last.at < this.logEveryMs) {
      last.suppressed++;
      return;
    }
    this.lastLogged.delete(key);
    if (this.lastLogged.size >= this.maxClients) {
      // Maps iterate in insertion order: the first key is the one logged longest ago.
      const oldest = this.lastLogged.keys().next().value;
      if (oldest !== undefined) this.lastLogged.delete(oldest);
    }
    this.lastLogged.set(key, { at: now, suppressed: 0 });
    this.options.logger.warn(
      { reason, client, suppressedSinceLastLine: last?.suppressed ?? 0 },
      `refused by a limit: ${message}`,
    );
  }
}
