/** What the replication reports on /healthz and to benchmarks. */
export class ReplicationMetrics {
  leader = false;
  /**
   * The slot is ready and its changes stream in. Creating a slot under write load can take up to
   * about 15 s: PostgreSQL waits for a snapshot of running transactions, which its background
   * writer logs every 15 s. Rows written meanwhile arrive then, through the initial copy.
   */
  streaming = false;
  batches = 0;
  rowsFlushed = 0;
  errors = 0;
  lastError: string | undefined;
  lastFlushAt: Date | undefined;
  lastBatchSize = 0;
  /** Commit → flushed, for the most recent transactions (a bounded window). */
  private lags: number[] = [];

  recordFlush(rows: number, commitTimes: number[]) {
    const now = Date.now();
    this.batches++;
    this.rowsFlushed += rows;
    this.lastBatchSize = rows;
    this.lastFlushAt = new Date(now);
    for (const t of commitTimes) this.lags.push(Math.max(0, now - t));
    if (this.lags.length > 10_000) this.lags = this.lags.slice(-5_000);
  }

  recordError(error: unknown) {
    this.errors++;
    this.lastError = error instanceof Error ? error.message : String(error);
  }

  lagPercentile(p: number): number | undefined {
    if (this.lags.length === 0) return undefined;
    const sorted = [...this.lags].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }

  resetLags() {
    this.lags = [];
  }

  snapshot() {
    return {
      leader: this.leader,
      streaming: this.streaming,
      lagMsP50: this.lagPercentile(50) ?? null,
      lagMsP99: this.lagPercentile(99) ?? null,
      batches: this.batches,
      lastBatchSize: this.lastBatchSize,
      rowsFlushed: this.rowsFlushed,
      errors: this.errors,
      lastError: this.lastError ?? null,
      lastFlushAt: this.lastFlushAt?.toISOString() ?? null,
    };
  }
}
