/**
 * When a failed callback is tried again, and when it is given up. Pure: the clock and the random
 * source come in as arguments.
 */
export interface RetryPolicy {
  /** The wait after the first failed attempt, before jitter; doubles after each further failure. Default 1 s (CALLBACK_RETRY_FIRST). */
  firstRetryMs: number;
  /** The longest wait between two attempts, before jitter. Default 1 h (CALLBACK_RETRY_MAX). */
  maxRetryMs: number;
  /** No attempt starts later than this after the waitpoint ended; a failure from then on is final. Default 24 h (CALLBACK_GIVE_UP_AFTER). */
  giveUpAfterMs: number;
}

export type RetryDecision = { retryAt: Date } | { giveUp: true };

/**
 * After `attempts` attempts (all failed) of an event that happened at `eventAt`: exponential
 * backoff with "equal jitter" (half the wait fixed, half random), so callbacks that failed together
 * do not all come back at the same instant, yet none comes back sooner than half its wait. With the
 * defaults: about 1, 2, 4, ... s, then hourly, and the last attempt at 24 h.
 */
export function nextRetry(policy: RetryPolicy, attempts: number, eventAt: Date, now: Date, random: () => number = Math.random): RetryDecision {
  const deadline = eventAt.getTime() + policy.giveUpAfterMs;
  if (now.getTime() >= deadline) return { giveUp: true };
  const doublings = Math.min(Math.max(attempts - 1, 0), 52);
  const wait = Math.min(policy.maxRetryMs, policy.firstRetryMs * 2 ** doublings);
  const jittered = wait / 2 + random() * (wait / 2);
  return { retryAt: new Date(Math.min(now.getTime() + jittered, deadline)) };
}
