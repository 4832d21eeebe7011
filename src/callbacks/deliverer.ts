import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Sql } from "../db/index.js";
import type { Signals } from "../live/index.js";
import { nextRetry, type RetryPolicy } from "./backoff.js";
import { callbackBody } from "./events.js";
import { describeError, formatMs, post, type PostOutcome } from "./post.js";
import type { WebhookSecrets } from "./signing.js";
import { signedHeaders } from "./signing.js";
import { CallbackUrlRefused, type ResolvedAddress, type UrlPolicy } from "./url-policy.js";

export interface DelivererOptions {
  /** Longest an attempt may take, name resolution, connecting, TLS and the answer together. Default 10 s (CALLBACK_TIMEOUT). */
  timeoutMs?: number;
  /** When failed attempts are retried and given up. Default: 1 s doubling to 1 h, given up after 24 h. */
  retry?: RetryPolicy;
  /** Attempts in flight in this process at once; due callbacks beyond that wait. Default 32 (`limits.callbacksInFlight`). */
  concurrency?: number;
  /**
   * Attempts in flight for one environment, over every node: a slow or flooded receiver of one
   * environment never holds every slot. Default a quarter of `concurrency` (8), at least 1.
   */
  perEnvironment?: number;
  /**
   * The safety net: how often this process looks for due callbacks without being woken (a signal
   * lost with a Redis outage, another node's lease that ran out). Default 5 s.
   */
  pollMs?: number;
  /** Bytes of an answer read at most. Default 4 KiB (`limits.callbackResponseBytes`). */
  maxResponseBytes?: number;
  /** How long a claim outlives the attempt's timeout before another node may take the row. Default 5 s. */
  leaseMarginMs?: number;
  /** Jitter's random source, in [0, 1). Default Math.random. */
  random?: () => number;
}

export interface DelivererDeps {
  sql: Sql;
  secrets: WebhookSecrets;
  policy: UrlPolicy;
  signals: Signals;
  logger: Pick<Logger, "warn" | "error">;
}

/** A claimed callback and the ended waitpoint it announces. */
interface Claimed {
  id: string;
  waitpointId: string;
  environmentId: string;
  url: string;
  eventType: string;
  eventAt: Date;
  attempts: number;
  /** The database's clock when the row was claimed: retries are scheduled on its time line. */
  claimedAt: Date;
  sessionId: string;
  io: string;
  afterSeqNum: string | number | bigint;
  status: string;
  tags: string[];
  recordSeqNum: string | number | bigint | null;
  recordTimestamp: Date | null;
  recordData: unknown;
  createdAt: Date;
  completedAt: Date | null;
  timeoutAt: Date;
}

// A row is due when next_attempt_at has passed. Claiming moves next_attempt_at to the end of the
// lease: if this process dies mid-attempt, the row is due again then, for any node. SKIP LOCKED:
// nodes claiming at once take different rows, and a row committed as claimed is no longer due.
// Each environment gets at most $4 attempts in flight (counted over every node: the rows under a
// lease), so one whose receiver hangs, or that has thousands due, holds a few slots for its
// timeout, never all of them: another environment's callbacks go out meanwhile. The due rows are
// taken per environment (oldest first in each), then the oldest of those, up to $1.
const CLAIM = `
WITH busy AS (
  SELECT environment_id, count(*)::int AS n FROM waitpoint_callbacks
  WHERE lease_token IS NOT NULL AND next_attempt_at > now()
  GROUP BY environment_id
), envs AS (
  SELECT DISTINCT environment_id FROM waitpoint_callbacks WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= now()
), candidates AS (
  SELECT d.id, d.next_attempt_at
  FROM envs LEFT JOIN busy ON busy.environment_id = envs.environment_id
  CROSS JOIN LATERAL (
    SELECT w.id, w.next_attempt_at FROM waitpoint_callbacks w
    WHERE w.environment_id = envs.environment_id AND w.next_attempt_at IS NOT NULL AND w.next_attempt_at <= now()
    ORDER BY w.next_attempt_at
    LIMIT GREATEST(0, $4::int - COALESCE(busy.n, 0))
    FOR UPDATE SKIP LOCKED
  ) d
), claimed AS (
  UPDATE waitpoint_callbacks c
  SET next_attempt_at = now() + $2::int * interval '1 millisecond', lease_token = $3, attempts = c.attempts + 1, last_attempt_at = now()
  WHERE c.id IN (SELECT id FROM candidates ORDER BY next_attempt_at LIMIT $1)
  RETURNING c.id, c.waitpoint_id, c.environment_id, c.url, c.event_type, c.event_at, c.attempts, c.last_attempt_at
)
SELECT claimed.id, claimed.waitpoint_id AS "waitpointId", claimed.environment_id AS "environmentId", claimed.url,
       claimed.event_type AS "eventType", claimed.event_at AS "eventAt", claimed.attempts, claimed.last_attempt_at AS "claimedAt",
       w.session_id AS "sessionId", w.io, w.after_seq_num AS "afterSeqNum", w.status, w.tags,
       w.record_seq_num AS "recordSeqNum", w.record_timestamp AS "recordTimestamp", w.record_data AS "recordData",
       w.created_at AS "createdAt", w.completed_at AS "completedAt", w.timeout_at AS "timeoutAt"
FROM claimed JOIN waitpoints w ON w.id = claimed.waitpoint_id`;

// Each outcome is written only by the claim that made the attempt (lease_token): a process that
// outlived its lease, while another node took the row over, changes nothing.
const DELIVERED = `
UPDATE waitpoint_callbacks SET status = 'DELIVERED', delivered_at = now(), next_attempt_at = NULL, lease_token = NULL
WHERE id = $1 AND lease_token = $2`;
const FAILED_ATTEMPT = `
UPDATE waitpoint_callbacks SET status = $3, next_attempt_at = $4, last_error = $5, lease_token = NULL
WHERE id = $1 AND lease_token = $2`;
/** Shutdown: the row is due again at once, for another node (or this one after its restart). */
const RELEASE = `
UPDATE waitpoint_callbacks SET next_attempt_at = now(), last_error = $3, lease_token = NULL
WHERE id = $1 AND lease_token = $2`;
// Rows of an environment at its cap ($1) are left out while due: the end of one of its attempts
// looks again (on the node that made it), so waiting on them would only spin.
const NEXT_DUE = `
WITH busy AS (
  SELECT environment_id, count(*)::int AS n FROM waitpoint_callbacks
  WHERE lease_token IS NOT NULL AND next_attempt_at > now()
  GROUP BY environment_id
)
SELECT (EXTRACT(EPOCH FROM (min(c.next_attempt_at) - now())) * 1000)::float8 AS ms
FROM waitpoint_callbacks c LEFT JOIN busy ON busy.environment_id = c.environment_id
WHERE c.next_attempt_at IS NOT NULL AND (c.next_attempt_at > now() OR COALESCE(busy.n, 0) < $1::int)`;

/**
 * Delivers due waitpoint callbacks: the outbox worker. Every process runs one; they share the work
 * through the rows (claims with SKIP LOCKED and a lease), so a callback is attempted by one node at
 * a time and any node carries on after another's crash. It is woken by the `waitpoint` signal that
 * every completion and timeout publishes (in process, and through Redis on every node), by the end
 * of the earliest retry wait it knows of, and by a slow poll as a safety net.
 */
export class CallbackDeliverer {
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly concurrency: number;
  private readonly perEnvironment: number;
  private readonly pollMs: number;
  private readonly maxResponseBytes: number;
  private readonly leaseMs: number;
  private readonly random: () => number;

  private inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private unsubscribe: (() => void) | undefined;
  private poll: NodeJS.Timeout | undefined;
  private nextDue: NodeJS.Timeout | undefined;

  constructor(
    private deps: DelivererDeps,
    options: DelivererOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retry = options.retry ?? { firstRetryMs: 1_000, maxRetryMs: 3_600_000, giveUpAfterMs: 86_400_000 };
    this.concurrency = options.concurrency ?? 32;
    this.perEnvironment = options.perEnvironment ?? Math.max(1, Math.ceil(this.concurrency / 4));
    this.pollMs = options.pollMs ?? 5_000;
    this.maxResponseBytes = options.maxResponseBytes ?? 4096;
    this.leaseMs = this.timeoutMs + (options.leaseMarginMs ?? 5_000);
    this.random = options.random ?? Math.random;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.deps.signals.subscribe((signal) => {
      if (signal.kind === "waitpoint") this.kick();
    });
    this.poll = setInterval(() => this.kick(), this.pollMs);
    this.poll.unref();
    // Whatever was due before this process started: left by a crash, or by a node that is gone.
    this.kick();
  }

  /** Looks for due callbacks now (coalesced: a look already under way looks once more after). */
  kick() {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again) this.kick();
    });
  }

  /** Number of attempts this process has in flight (for tests and metrics). */
  get attemptsInFlight() {
    return this.inFlight.size;
  }

  private async run() {
    try {
      do {
        this.again = false;
        const room = this.concurrency - this.inFlight.size;
        // Full: each attempt that ends looks again.
        if (room <= 0) return;
        // Names this claim: only it may record the outcome of these attempts.
        const token = randomUUID();
        const rows = await this.deps.sql.query<Claimed>(CLAIM, [room, this.leaseMs, token, this.perEnvironment]);
        for (const row of rows) this.launch(row, token);
        if (rows.length === room) this.again = true;
      } while (this.again && !this.stopped);
      await this.scheduleNextDue();
    } catch (error) {
      // The poll comes back; until then nothing is lost (the rows wait).
      if (!this.stopped) this.deps.logger.error({ err: error }, "waitpoint callbacks: looking for due callbacks failed");
    }
  }

  /** A timer for the earliest retry (or lease end) of any node, so a retry is not left to the poll. */
  private async scheduleNextDue() {
    const [row] = await this.deps.sql.query<{ ms: number | null }>(NEXT_DUE, [this.perEnvironment]);
    clearTimeout(this.nextDue);
    if (row?.ms == null || this.stopped) return;
    const wait = Math.max(0, Math.min(Number(row.ms), this.pollMs));
    if (wait >= this.pollMs) return;
    this.nextDue = setTimeout(() => this.kick(), wait + 1);
    this.nextDue.unref();
  }

  private launch(row: Claimed, token: string) {
    const controller = new AbortController();
    const done = this.attempt(row, token, controller.signal)
      .catch((error: unknown) => this.deps.logger.error({ err: error, waitpointId: row.waitpointId, callbackId: row.id }, "waitpoint callback: recording an attempt failed"))
      .finally(() => {
        this.inFlight.delete(row.id);
        this.kick();
      });
    this.inFlight.set(row.id, { controller, done });
  }

  private async attempt(row: Claimed, token: string, signal: AbortSignal) {
    const started = performance.now();
    const url = new URL(row.url);
    const outcome = await this.send(row, url, signal);
    if (signal.aborted) {
      await this.deps.sql.query(RELEASE, [row.id, token, "error" in outcome ? outcome.error : "interrupted: the server shut down"]);
      return;
    }
    if ("status" in outcome && outcome.status >= 200 && outcome.status < 300) {
      await this.deps.sql.query(DELIVERED, [row.id, token]);
    } else {
      const error = "status" in outcome ? `HTTP ${outcome.status}` : outcome.error;
      const now = new Date(new Date(row.claimedAt).getTime() + (performance.now() - started));
      const decision = nextRetry(this.retry, row.attempts, new Date(row.eventAt), now, this.random);
      const retryAt = "retryAt" in decision ? decision.retryAt : null;
      await this.deps.sql.query(FAILED_ATTEMPT, [row.id, token, retryAt ? "PENDING" : "FAILED", retryAt, error]);
      const log = { waitpointId: row.waitpointId, callbackId: row.id, host: url.host, attempts: row.attempts, error };
      if (retryAt) this.deps.logger.warn({ ...log, retryAt }, "waitpoint callback failed; will retry");
      else this.deps.logger.warn(log, "waitpoint callback failed; given up");
    }
    // waitpointChanged reports the delivery (and each failed attempt).
    this.deps.signals.publish({ kind: "waitpoint", waitpointId: row.waitpointId });
  }

  /** One attempt: resolve and check the address, sign, POST. Never throws: failures are outcomes. */
  private async send(row: Claimed, url: URL, signal: AbortSignal): Promise<PostOutcome> {
    const deadline = Date.now() + this.timeoutMs;
    let address: ResolvedAddress;
    try {
      address = await withDeadline(this.deps.policy.addressFor(url), this.timeoutMs, `timed out resolving ${url.hostname}`);
    } catch (error) {
      if (error instanceof CallbackUrlRefused) return { error: `refused: ${error.message}` };
      return { error: `DNS: ${describeError(error)}` };
    }
    let headers: Record<string, string>;
    let body: string;
    try {
      body = callbackBody(row.eventType, new Date(row.eventAt), {
        ...row,
        id: row.waitpointId,
        recordTimestamp: row.recordTimestamp && new Date(row.recordTimestamp),
        createdAt: new Date(row.createdAt),
        completedAt: row.completedAt && new Date(row.completedAt),
        timeoutAt: new Date(row.timeoutAt),
      });
      headers = signedHeaders(await this.deps.secrets.signing(row.environmentId), row.id, new Date(), body);
    } catch (error) {
      // Not the receiver's doing, and nothing a client should read: the log has it.
      this.deps.logger.error({ err: error, waitpointId: row.waitpointId, callbackId: row.id }, "waitpoint callback could not be signed");
      return { error: "could not be signed (see the server's log)" };
    }
    return post({
      url,
      address,
      headers,
      body,
      // What is left of the attempt's time after resolving and signing.
      timeoutMs: Math.max(1, deadline - Date.now()),
      timeoutError: `timed out after ${formatMs(this.timeoutMs)}`,
      maxResponseBytes: this.maxResponseBytes,
      signal,
    });
  }

  /** Ends in-flight attempts (their rows are due again at once, for any node) and stops looking. */
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.poll);
    clearTimeout(this.nextDue);
    await this.running;
    for (const { controller } of this.inFlight.values()) controller.abort();
    await Promise.allSettled([...this.inFlight.values()].map((a) => a.done));
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
