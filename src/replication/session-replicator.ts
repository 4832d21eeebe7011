import { setTimeout as sleep } from "node:timers/promises";
import type { ClickHouseClient } from "@clickhouse/client";
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from "pg-logical-replication";
import pg from "pg";
import type { Logger } from "pino";
import { lsnToBigInt } from "./lsn.js";
import type { ReplicationMetrics } from "./replication-metrics.js";
import { toClickHouseRow, type ClickHouseSessionRow } from "./session-row.js";

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

  constructor(
    private options: ReplicatorOptions,
    private clickhouse: ClickHouseClient,
    private logger: Logger,
    private metrics: ReplicationMetrics,
  ) {}

  /** Creates the publication and the slot when missing; both outlive this process. */
  async ensureSlot() {
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
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
    } finally {
      await client.end();
    }
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
      if (!shouldRespond) return;
      // Nothing waiting and no transaction open: everything up to the server's position is stored.
      const idle = !this.open && this.committed.length === 0 && !this.flushing;
      void service.acknowledge(idle ? lsn : this.lastAcked).catch((e: unknown) => this.logger.warn({ err: e }, "replication feedback failed"));
    });
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.options.publication] });
    try {
      await Promise.race([service.subscribe(plugin, this.options.slot), failed]);
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
          if (rows.length > 0) await this.insertWithRetry(rows);
          const endLsn = batch.at(-1)!.endLsn;
          if (this.service && !this.service.isStop()) await this.service.acknowledge(endLsn);
          this.lastAcked = endLsn;
          this.metrics.recordFlush(rows.length, batch.filter((t) => t.rows.length > 0).map((t) => t.commitTime));
        }
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
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
    await this.service?.stop().catch(() => {});
    this.service = undefined;
  }
}
