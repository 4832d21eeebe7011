import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ReplicationMetrics } from "../replication/index.js";

/** The service's Prometheus metrics, one registry per process (served on GET /metrics). */
export function createMetrics(replication: () => ReplicationMetrics | undefined) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "sessions_process_" });
  const metrics = {
    registry,
    operations: new Counter({ name: "sessions_graphql_operations_total", help: "GraphQL operations executed", labelNames: ["type"], registers: [registry] }),
    errors: new Counter({ name: "sessions_graphql_errors_total", help: "GraphQL errors returned, by contract code", labelNames: ["code"], registers: [registry] }),
    subscriptionsOpen: new Gauge({ name: "sessions_subscriptions_open", help: "Subscriptions currently open", registers: [registry] }),
    recordsAppended: new Counter({ name: "sessions_records_appended_total", help: "Records appended to channels", labelNames: ["io"], registers: [registry] }),
    recordsDelivered: new Counter({ name: "sessions_records_delivered_total", help: "Records delivered to subscribers", registers: [registry] }),
    recordsTrimmed: new Counter({
      name: "sessions_records_trimmed_total",
      help: "Records trimmed from channels (seqNums the head passed), by cause: api (trimSessionChannel) or retention",
      labelNames: ["cause"],
      registers: [registry],
    }),
    sessionsDeleted: new Counter({
      name: "sessions_deleted_total",
      help: "Sessions deleted with their records, by cause: api (deleteSession) or retention (SESSION_RETENTION)",
      labelNames: ["cause"],
      registers: [registry],
    }),
    sweepDuration: new Histogram({
      name: "sessions_sweep_duration_seconds",
      help: "Duration of the sweeps this node made (retention and housekeeping, one node at a time)",
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers: [registry],
    }),
    limitRefusals: new Counter({
      name: "sessions_limit_refusals_total",
      help: "Requests refused by a limit of src/limits.ts (rate limits, quotas), by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
  new Gauge({
    name: "sessions_replication_lag_ms",
    help: "PostgreSQL commit to ClickHouse flush, over recent transactions",
    labelNames: ["quantile"],
    registers: [registry],
    collect() {
      const r = replication();
      if (!r) return;
      this.set({ quantile: "0.5" }, r.lagPercentile(50) ?? 0);
      this.set({ quantile: "0.99" }, r.lagPercentile(99) ?? 0);
    },
  });
  new Gauge({
    name: "sessions_replication_errors",
    help: "ClickHouse write and replication errors since start",
    registers: [registry],
    collect() {
      this.set(replication()?.errors ?? 0);
    },
  });
  new Gauge({
    name: "sessions_replication_last_batch_rows",
    help: "Rows in the last batch flushed to ClickHouse",
    registers: [registry],
    collect() {
      this.set(replication()?.lastBatchSize ?? 0);
    },
  });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
