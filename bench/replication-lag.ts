import pg from "pg";
import { settleReplication } from "../tests/helpers/replication.js";
import { startServer } from "../tests/helpers/test-server.js";
import { progress } from "./stats.js";

/** PostgreSQL commit → row flushed to ClickHouse, while writing sessions at a steady rate. */
export async function replicationLag(opts: { ratePerSecond: number; seconds: number }) {
  const server = await startServer("clickhouse", { REPLICATION_FLUSH_MS: "50" });
  try {
    const { id: environmentId } = await server.newEnvironment();
    const replication = server.services.replication!;
    // Streaming, not just leader: the slot may still be in the making (see ReplicationMetrics.streaming).
    while (!replication.metrics.streaming) await new Promise((r) => setTimeout(r, 50));
    const pool = new pg.Pool({ connectionString: server.env.DATABASE_URL, max: 16 });
    progress(`replication lag: writing ${opts.ratePerSecond}/s for ${opts.seconds}s`);
    replication.metrics.resetLags();
    const total = opts.ratePerSecond * opts.seconds;
    const started = performance.now();
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < total; i++) {
      // Paced: the i-th write starts at i / rate seconds.
      const due = started + (i * 1000) / opts.ratePerSecond;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const p = pool.query("INSERT INTO sessions (id, environment_id, type, tags) VALUES ($1, $2, 'bench', '{}')", [
        `session_bench${String(i).padStart(16, "0")}`,
        environmentId,
      ]);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= 64) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const achieved = total / ((performance.now() - started) / 1000);
    await settleReplication(server.services, 60_000);
    await pool.end();
    const m = replication.metrics;
    return { writesPerSecond: Math.round(achieved), rows: total, lagP50Ms: m.lagPercentile(50)!, lagP99Ms: m.lagPercentile(99)!, batches: m.batches };
  } finally {
    await server.close();
  }
}
