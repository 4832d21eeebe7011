import { setTimeout as delay } from "node:timers/promises";

/**
 * vi.waitFor for helpers that benchmarks share (bench/ runs under tsx, where vitest's `vi` cannot be
 * used): resolves with `check`'s result once it returns without throwing, re-running it every
 * `interval` ms (never two at once); after `timeout` ms rejects with its last error. For conditions
 * that only a query can observe (another process's progress, rows in ClickHouse).
 */
export async function waitFor<T>(check: () => T | Promise<T>, { timeout, interval = 50 }: { timeout: number; interval?: number }): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() + interval > deadline) throw error;
    }
    await delay(interval);
  }
}
