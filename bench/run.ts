// `npm run bench`: prints a table and writes bench/results/latest.json. Sections: delivery, fanout,
// capacity, throughput, resume, nodes, lag, lists, chat, callbacks
// (all by default; name some to run only those, e.g. `npm run bench -- lists`).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { idleSubscribers } from "./capacity.js";
import { deliveryLatency } from "./delivery.js";
import { resumeCost } from "./resume.js";
import { appendThroughput } from "./throughput.js";
import { listLatency } from "./list-latency.js";
import { replicationLag } from "./replication-lag.js";
import { threeNodes } from "./nodes.js";
import type { Summary } from "./stats.js";

const wanted = new Set(process.argv.slice(2));
const run = (name: string) => wanted.size === 0 || wanted.has(name);
const latest = new URL("./results/latest.json", import.meta.url);
// Running some sections replaces only theirs: the file keeps the others' latest figures.
const results: Record<string, unknown> = {
  ...(wanted.size > 0 && existsSync(latest) ? (JSON.parse(readFileSync(latest, "utf8")) as Record<string, unknown>) : {}),
  at: new Date().toISOString(),
  machine: { cpus: (await import("node:os")).cpus().length },
};
const fmt = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

if (run("delivery")) {
  const rows = await deliveryLatency({ subscriberCounts: [1, 100, 1000], appends: (n) => (n === 1 ? 300 : n === 100 ? 100 : 50) });
  results.delivery = rows;
  console.log("\nAppend → delivery latency, local store on PostgreSQL; peers: the Durable Streams Caddy server (Go, file store) when it can run, and @durable-streams/server (Node, file-backed), each with its client; ratios against Caddy when it ran");
  console.log("targets: p50 ≤ 2 ms / p99 ≤ 10 ms with 1 subscriber and no worse than the peer; p50 ≤ 10 ms with 1,000");
  console.table(rows.map((r) => ({ ...r, p50Ms: fmt(r.p50Ms as number), p99Ms: fmt(r.p99Ms as number), "p50 vs peer": `${(r["p50 vs peer"] as number).toFixed(2)}×` })));
}

if (run("fanout")) {
  const { fanoutLatency } = await import("./fanout.js");
  const fanout = await fanoutLatency({ subscribers: 1000, appends: 50 });
  results.fanout = fanout;
  console.log("\nFan-out to 1,000 subscribers of one channel that joined at spread positions (half by externalId), local store on PostgreSQL");
  console.log(`goal: ${fanout.goal}`);
  console.table(
    fanout.rows.map((r) => ({
      ...r,
      p50Ms: fmt(r.p50Ms as number),
      p99Ms: fmt(r.p99Ms as number),
      "vs same": r["vs same"] === null ? "" : `${(r["vs same"] as number).toFixed(2)}×`,
      "vs floor": `${(r["vs floor"] as number).toFixed(2)}×`,
    })),
  );
}

if (run("capacity")) {
  const capacity = await idleSubscribers({ total: 100_000, channels: 1_000, sockets: 1_000 });
  results.capacity = capacity;
  console.log("\nIdle subscriptions held by one server process (100,000 over 1,000 channels and 1,000 WebSockets)");
  const { goal, ...figures } = capacity;
  console.log(`goal: ${goal}`);
  console.table([figures]);
}

if (run("throughput")) {
  const rows = await appendThroughput({ seconds: 5, concurrency: 32 });
  results.throughput = rows;
  console.log("\nAppend throughput, local store on PostgreSQL, 32 concurrent writers; target ≥ 3,000 single appends/s");
  console.table(rows.map((r) => ({ ...r, "vs direct": `${(r["vs direct"] as number).toFixed(2)}×` })));
}

if (run("resume")) {
  const resume = await resumeCost({ rounds: 50, missed: 100 });
  results.resume = resume;
  console.log("\nResume: reconnect → first missed record delivered (100 records missed each time)");
  console.table([{ rounds: resume.n, p50Ms: fmt(resume.p50), p99Ms: fmt(resume.p99) }]);
}

if (run("lag")) {
  const lag = await replicationLag({ ratePerSecond: 1000, seconds: 10 });
  results.replication = lag;
  console.log("\nReplication lag (PostgreSQL commit → ClickHouse), target p99 ≤ 1000 ms");
  console.table([{ "writes/s": lag.writesPerSecond, rows: lag.rows, "lag p50 ms": fmt(lag.lagP50Ms), "lag p99 ms": fmt(lag.lagP99Ms), batches: lag.batches }]);
}

if (run("nodes")) {
  const nodes = await threeNodes({ subscribers: 3_000, appends: 20, gapMs: 500 });
  results.nodes = nodes;
  console.log("\nThree nodes sharing PostgreSQL and Redis, 3,000 WebSocket subscribers spread over them, appends through the first; then the second is killed (SIGKILL)");
  console.log(`goal: ${nodes.goal}`);
  const row = (what: string, s: Summary) => ({ what, n: s.n, p50Ms: fmt(s.p50), p99Ms: fmt(s.p99) });
  console.table([row("delivery, same node", nodes.sameNode), row("delivery, other node", nodes.otherNode), row(`kill → gone noticed (${nodes.moved} subscribers)`, nodes.noticed), row(`kill → first record from another node`, nodes.reconnect)]);
  console.table([{ gaps: nodes.gaps, duplicates: nodes.duplicates }]);
}

if (run("lists")) {
  const lists = await listLatency({ sizes: [100_000, 1_000_000], requests: 100 });
  const goal = "at 1M sessions on PostgreSQL: page p50 ≤ 10 ms, page + totalCount p99 ≤ 150 ms (issue #17); on ClickHouse p99 ≤ 50 ms";
  results.lists = { goal, rows: lists };
  console.log("\nList page (first 25) + totalCount through GraphQL");
  console.log(`goal: ${goal}`);
  console.log("(page p50 and count p50: the repository's two calls alone, without GraphQL and HTTP)");
  console.table(lists.map((r) => ({ ...r, p50Ms: fmt(r.p50Ms as number), p99Ms: fmt(r.p99Ms as number), "page p50": fmt(r["page p50"] as number), "count p50": fmt(r["count p50"] as number) })));
}

if (run("chat")) results.chat = await (await import("./chat.js")).chatBench({ turns: 30, chunks: 100, gapMs: 5 });

if (run("callbacks")) {
  const { callbackLatency } = await import("./callback-latency.js");
  const callbacks = await callbackLatency({ rounds: 200 });
  results.callbacks = callbacks;
  console.log("\nCompletion → callback latency: a waitpoint with a callbackUrl completed by an append, until its signed POST arrives (PostgreSQL, one node)");
  console.log("(from the append being sent, and from the waitpoint's completedAt: the server's clock, to the millisecond)");
  const { fromAppend: a, fromCompletion: c } = callbacks;
  console.table([{ rounds: a.n, "append → callback p50 ms": fmt(a.p50), "p99 ms": fmt(a.p99), "completion → callback p50 ms": fmt(c.p50), "p99 ms ": fmt(c.p99) }]);
}

writeFileSync(latest, `${JSON.stringify(results, null, 2)}\n`);
console.log("\nwrote bench/results/latest.json");
