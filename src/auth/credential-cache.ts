export interface CredentialCacheOptions {
  /** How long an entry is served without reading it again, in ms. */
  ttlMs: number;
  /** Entries held before the cache is emptied, so bogus credentials cannot grow it. */
  maxEntries: number;
}

/**
 * A short-lived cache of what credentials resolve to, safe against invalidations that race a read:
 * `invalidate` bumps an epoch, and a read that overlapped one is made again rather than trusted (it
 * may have been answered before the change it was told about committed). Concurrent reads of one
 * key share a single load, so a signal that makes many live subscriptions re-check at once costs
 * one database read, not one per subscription. Misses are not cached: a key created a moment ago
 * must work at once.
 */
export class CredentialCache<V> {
  private entries = new Map<string, { value: V; expires: number }>();
  private pending = new Map<string, { epoch: number; promise: Promise<V | null> }>();
  private epoch = 0;

  constructor(private options: CredentialCacheOptions) {}

  async get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > Date.now()) return hit.value;
    const shared = this.pending.get(key);
    if (shared && shared.epoch === this.epoch) return shared.promise;
    const promise = this.load(key, load);
    this.pending.set(key, { epoch: this.epoch, promise });
    try {
      return await promise;
    } finally {
      if (this.pending.get(key)?.promise === promise) this.pending.delete(key);
    }
  }

  private async load(key: string, load: () => Promise<V | null>): Promise<V | null> {
    let epoch = this.epoch;
    let value = await load();
    if (epoch !== this.epoch) {
      epoch = this.epoch;
      value = await load();
    }
    if (value !== null && epoch === this.epoch) {
      this.entries.set(key, { value, expires: Date.now() + this.options.ttlMs });
      if (this.entries.size > this.options.maxEntries) this.entries.clear();
    } else {
      this.entries.delete(key);
    }
    return value;
  }

  /** The cached value, if any, without reading: for changes applied in place. */
  peek(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Drops the entries `matches` picks (every entry when omitted); reads in flight are made again. */
  invalidate(matches: (key: string, value: V) => boolean = () => true) {
    this.epoch++;
    for (const [key, entry] of this.entries) if (matches(key, entry.value)) this.entries.delete(key);
  }
}
