/**
 * Counts of things held open (connections, subscriptions) per key (a credential, an address),
 * each refused past its cap. Keys are dropped at zero, so the map holds only what is open.
 */
export class CountedCaps {
  private counts = new Map<string, number>();

  /**
   * Takes one for `key` unless `cap` are already held (`null`: no cap). Returns the release
   * (idempotent), or undefined when refused.
   */
  acquire(key: string, cap: number | null): (() => void) | undefined {
    const held = this.counts.get(key) ?? 0;
    if (cap !== null && held >= cap) return undefined;
    this.counts.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.counts.get(key) ?? 1) - 1;
      if (now <= 0) this.counts.delete(key);
      else this.counts.set(key, now);
    };
  }

  count(key: string) {
    return this.counts.get(key) ?? 0;
  }
}
