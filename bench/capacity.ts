import { readFileSync } from "node:fs";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import { backendEnv } from "../tests/helpers/backends.js";
import { startProcess } from "../tests/helpers/process.js";
import { createSessionId, gqlClient } from "../tests/helpers/test-server.js";
import { progress } from "./stats.js";

/** How long the server is left idle before its memory is read again. */
const IDLE_MS = 30_000;

/** The server's V8 heap in use (prom-client's default metric, on GET /metrics). */
async function heapUsedOf(url: string) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^sessions_process_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;

/**
 * Idle subscriptions one server process holds, and its resident memory: `total` subscriptions over
 * `channels` channels, multiplexed on `sockets` WebSockets, against a server in its own process.
 */
export async function idleSubscribers(opts: { total: number; channels: number; sockets: number }) {
  const env = await backendEnv("postgres");
  const key = `sk_${"b".repeat(40)}`;
  const server = startProcess({ ...env, SESSIONS_SECRET_KEY: key, LOG_LEVEL: "warn" });
  const { url, wsUrl } = await server.ready;
  try {
    const gql = gqlClient(url, key);
    const ids: string[] = [];
    for (let i = 0; i < opts.channels; i++) {
      ids.push(await createSessionId(gql, "idle"));
    }
    await new Promise((r) => setTimeout(r, 500));
    const rssBefore = rssOf(server.child.pid!);
    progress(`capacity: opening ${opts.total.toLocaleString()} subscriptions over ${opts.sockets} sockets`);
    const clients = Array.from({ length: opts.sockets }, () =>
      createWsClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` }, lazy: false }),
    );
    let acknowledged = 0;
    const offs: (() => void)[] = [];
    for (let i = 0; i < opts.total; i++) {
      const id = ids[i % ids.length]!;
      offs.push(
        clients[i % clients.length]!.subscribe(
          { query: `subscription($id: ID!) { sessionRecords(id: $id, io: OUT, fromSeqNum: 0) { seqNum } }`, variables: { id } },
          { next: () => acknowledged++, error: () => {}, complete: () => {} },
        ),
      );
    }
    // Prove they are live: one record on every channel must reach every subscription.
    await new Promise((r) => setTimeout(r, 3_000));
    for (const id of ids) await gql(`mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: 1 }]) { lastSeqNum } }`, { id });
    const deadline = Date.now() + 300_000;
    while (acknowledged < opts.total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const rss = rssOf(server.child.pid!);
    // Then idle, as the subscriptions are: V8 collects with less room once allocation stops, so
    // this RSS is what holding them costs, and the heap in use splits it from the collector's room.
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const rssIdle = rssOf(server.child.pid!);
    const heapUsed = await heapUsedOf(url);
    offs.forEach((off) => off());
    await Promise.all(clients.map((c) => c.dispose()));
    return {
      goal: "≤ 2 GB RSS for 100,000 subscriptions, ≤ 15 kB each",
      subscriptions: opts.total,
      delivered: acknowledged,
      rssMB: Math.round(rss / 1024 / 1024),
      rssBaselineMB: Math.round(rssBefore / 1024 / 1024),
      kBPerSubscription: Math.round((rss - rssBefore) / opts.total / 1024 * 10) / 10,
      [`rssMB after ${IDLE_MS / 1000} s idle`]: Math.round(rssIdle / 1024 / 1024),
      "kB each, idle": Math.round((rssIdle - rssBefore) / opts.total / 1024 * 10) / 10,
      heapUsedMB: Math.round(heapUsed / 1024 / 1024),
    };
  } finally {
    await server.stop();
  }
}
