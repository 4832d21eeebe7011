import { SessionsError } from "../sessions-client.js";

/** Answers a retry cannot change (the request itself is wrong, or the session takes no writes). */
const FINAL = ["FORBIDDEN", "UNAUTHENTICATED", "NOT_FOUND", "BAD_USER_INPUT", "SESSION_CLOSED", "PAYLOAD_TOO_LARGE", "SEQ_NUM_MISMATCH", "RECORDS_TRIMMED"];

export const isFinal = (error: unknown) => error instanceof SessionsError && FINAL.includes(error.code ?? "");
export const isSessionClosed = (error: unknown) => error instanceof SessionsError && error.code === "SESSION_CLOSED";

/**
 * Runs `fn` again after network failures and transient answers (RATE_LIMITED, internal errors),
 * with back-off from 100 ms to 5 s, `attempts` times in all (default 8). Only for requests that
 * are safe to repeat: the agent's appends all carry idempotency keys. Stops when `signal` aborts.
 */
export async function retrying<T>(fn: () => Promise<T>, signal?: AbortSignal, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (isFinal(error) || attempt >= attempts || signal?.aborted) throw error;
      await pause(Math.min(5_000, 100 * 2 ** (attempt - 1)), signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal) {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
