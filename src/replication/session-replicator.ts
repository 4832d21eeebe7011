import type { ClickHouseClient } from "@clickhouse/client";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from "pg-logical-replication";
import type { Logger } from "pino";
import { bigIntToLsn, lsnToBigInt } from "./lsn.js";
import type { ReplicationMetrics } from "./replication-metrics.js";
import { toClickHouseRow, type ClickHouseSessionRow } from "./session-row.js";

const noop = () => {};

export interface ReplicatorOptions {
  databaseUrl: string;
  slot: string;
  publication: string;
  /** Flush when this many rows are waiting… */
  batchSize: number;
  /** …or when the oldest waiting row is this old. */
  flushIntervalMs: number;
  /** Ceiling of the exponential back-off between ClickHouse retries. */
  maxBackoffMs: number;
}

interface CommittedTransaction {
  endLsn: string;
  commitTime: number;
  rows: ClickHouseSessionRow[];
}

/**
 * Streams the `sessions` table from PostgreSQL (pgoutput) into ClickHouse's sessions_v1.
 * At-least-once: a transaction's end LSN is acknowledged only after ClickHouse has its rows,
 * so a crash replays from the last acknowledged transaction, and ReplacingMergeTree's _version
 * (the commit LSN) makes the replay harmless.
 */
export class SessionReplicator {
  private service: LogicalReplicationService | undefined;
  private open: { commitLsn: bigint; commitTime: number; rows: ClickHouseSessionRow[] } | undefined;
  private committed: CommittedTransaction[] = [];
  private waitingRows = 0;
  private flushing: Promise<void> | undefined;
  private lastAcked = "0/0";
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Settles once the current run's stream has started, or failed to. */
  private started: Promise<void> = Promise.resolve();

  constructor(
    private options: ReplicatorOptions,
    private clickhouse: ClickHouseClient,
    private logger: Logger,
    private metrics: ReplicationMetrics,
  ) {}

  /**
   * Creates the publication and the slot when missing (both outlive this process), then copies
   * the rows that existed before the slot, once per slot.
   */
  async ensureSlot() {
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    // Failures reach us through the queries; an 'error' event with no listener would crash the process.
    client.on("error", () => {});
    await client.connect();
    try {
      const { rowCount: hasPublication } = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [this.options.publication]);
      if (!hasPublication) await client.query(`CREATE PUBLICATION "${this.options.publication}" FOR TABLE sessions`);
      const { rowCount: hasSlot } = await client.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [this.options.slot]);
      if (!hasSlot) {
        await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [this.options.slot]).catch((error: { code?: string }) => {
          if (error.code !== "42710") throw error; // created by another process meanwhile
        });
      }
      await this.backfill(client);
    } finally {
      await client.end();
    }
  }

  /**
   * The initial copy. Rows are read as they are now and versioned with the slot's confirmed
   * position: every change after that position streams in with a higher LSN and wins, so the
   * copy can never hide a newer state, and repeating it (after a crash mid-copy) is harmless.
   */
  private async backfill(client: pg.Client) {
    const done = await this.clickhouse.query({
      query: "SELECT count() AS n FROM _sessions_backfills FINAL WHERE slot = {slot:String}",
      query_params: { slot: this.options.slot },
      format: "JSONEachRow",
    });
    if (Number((await done.json<{ n: string }>())[0]?.n ?? 0) > 0) return;
    const { rows: slotRows } = await client.query<{ lsn: string }>(
      "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
      [this.options.slot],
    );
    const version = lsnToBigInt(slotRows[0]!.lsn);
    let after = "";
    let copied = 0;
    for (;;) {
      const { rows } = await client.query<Record<string, unknown>>(
        "SELECT * FROM sessions WHERE id > $1 ORDER BY id LIMIT $2",
        [after, this.options.batchSize],
      );
      if (rows.length === 0) break;
      await this.insertWithRetry(rows.map((r) => toClickHouseRow(r, version, false)));
      copied += rows.length;
      after = String(rows.at(-1)!.id);
    }
    await this.clickhouse.insert({
      table: "_sessions_backfills",
      values: [{ slot: this.options.slot, version: version.toString(), rows: copied }],
      format: "JSONEachRow",
    });
    this.logger.info({ slot: this.options.slot, rows: copied }, "replication backfill done");
  }

  /** Runs until stop() or until the connection fails (then it rejects). */
  async run(): Promise<void> {
    this.stopping = false;
    const service = new LogicalReplicationService(
      { connectionString: this.options.databaseUrl },
      // No automatic acknowledgements: the library would confirm what it received, not what ClickHouse stored.
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    this.service = service;
    const failed = new Promise<never>((_, reject) => service.on("error", reject));
    service.on("data", (lsn: string, message: Pgoutput.Message) => this.onMessage(lsn, message));
    service.on("heartbeat", (lsn: string, _ts: number, shouldRespond: boolean) => {
      if (this.idle()) void this.acknowledge(lsn);
      else if (shouldRespond) void this.acknowledge(this.lastAcked);
    });
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.options.publication] });
    const streaming = Promise.race([service.subscribe(plugin, this.options.slot), failed]);
    this.started = Promise.race([new Promise<void>((resolve) => service.once("start", () => resolve())), streaming.then(noop, noop)]);
    try {
      await streaming;
    } finally {
      clearInterval(this.timer);
    }
  }

  private onMessage(lsn: string, message: Pgoutput.Message) {
    switch (message.tag) {
      case "begin":
        this.open = {
          commitLsn: lsnToBigInt(message.commitLsn ?? lsn),
          commitTime: Number((message.commitTime as bigint) / 1000n),
          rows: [],
        };
        return;
      case "insert":
      case "update":
        if (message.relation.name === "sessions" && this.open) this.open.rows.push(toClickHouseRow(message.new, this.open.commitLsn, false));
        return;
      case "delete": {
        const old = message.old ?? message.key;
        if (message.relation.name === "sessions" && this.open && old) this.open.rows.push(toClickHouseRow(old, this.open.commitLsn, true));
        return;
      }
      case "commit":
        if (!this.open) return;
        this.committed.push({ endLsn: message.commitEndLsn ?? lsn, commitTime: this.open.commitTime, rows: this.open.rows });
        this.waitingRows += this.open.rows.length;
        this.open = undefined;
        if (this.waitingRows >= this.options.batchSize) void this.flush();
        return;
    }
  }

  /** Writes every committed transaction to ClickHouse, retrying with back-off, then acknowledges it. */
  flush(): Promise<void> {
    if (this.committed.length === 0) return this.flushing ?? Promise.resolve();
    this.flushing ??= (async () => {
      try {
        while (this.committed.length > 0) {
          const batch = this.committed;
          this.committed = [];
          this.waitingRows = 0;
          const rows = batch.flatMap((t) => t.rows);
          const started = performance.now();
          if (rows.length > 0) await this.insertWithRetry(rows);
          await this.acknowledge(batch.at(-1)!.endLsn);
          this.logger.debug({ rows: rows.length, transactions: batch.length, ms: Math.round(performance.now() - started) }, "replication batch flushed");
          this.metrics.recordFlush(rows.length, batch.filter((t) => t.rows.length > 0).map((t) => t.commitTime));
        }
      } finally {
        this.flushing = undefined;
      }
      // Caught up: confirm all that was received (other tables' WAL too), so the slot never holds
      // WAL back and a server shutting down is not kept waiting for our confirmation.
      if (this.idle() && this.service) await this.acknowledge(this.service.lastLsn());
    })();
    return this.flushing;
  }

  /** No transaction open and nothing waiting: everything received is in ClickHouse. */
  private idle() {
    return !this.open && this.committed.length === 0 && !this.flushing;
  }

  private async acknowledge(lsn: string) {
    if (!this.service || this.service.isStop()) return;
    try {
      // pg-logical-replication reports lsn + 1 as flushed; PostgreSQL's walsender, shutting down,
      // waits for a confirmation of exactly its position, so hand the library lsn - 1.
      const n = lsnToBigInt(lsn);
      await this.service.acknowledge(bigIntToLsn(n > 0n ? n - 1n : 0n));
      this.lastAcked = lsn;
    } catch (error) {
      this.logger.warn({ err: error }, "replication feedback failed");
    }
  }

  private async insertWithRetry(rows: ClickHouseSessionRow[]) {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.clickhouse.insert({ table: "sessions_v1", values: rows, format: "JSONEachRow" });
        return;
      } catch (error) {
        this.metrics.recordError(error);
        if (this.stopping && attempt >= 2) throw error;
        const backoff = Math.min(this.options.maxBackoffMs, 100 * 2 ** attempt);
        const delay = backoff / 2 + Math.random() * (backoff / 2);
        this.logger.warn({ err: error, attempt, rows: rows.length, delayMs: Math.round(delay) }, "ClickHouse insert failed; retrying");
        await sleep(delay);
      }
    }
  }

  /** Flushes what is committed, acknowledges it, and closes the replication connection. */
  async stop() {
    this.stopping = true;
    clearInterval(this.timer);
    try {
      await this.flush();
    } catch (error) {
      this.logger.error({ err: error }, "final replication flush failed; it will be replayed");
    }
    // The library's stop() ends nothing while its connection is being made, and the stream then
    // starts anyway, with nothing left to end it: a stop during the start waits for it.
    await this.started;
    // The library strips every listener from its pg client on stop, yet a dying connection still
    // emits 'error' ("Connection terminated unexpectedly"), which unheard would crash the process.
    const client = (this.service as unknown as { _client?: pg.Client | null } | undefined)?._client;
    await this.service?.stop().catch(() => {});
    client?.on("error", () => {});
    this.service = undefined;
  }
}
