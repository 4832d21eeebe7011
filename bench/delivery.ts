import { setMaxListeners } from "node:events";
import { DurableStreamTestServer } from "@durable-streams/server";
import { DurableStream, stream } from "@durable-streams/client";
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import { tempDir } from "../tests/helpers/backends.js";
import { createSessionId, startServer, type TestServer } from "../tests/helpers/test-server.js";
import { progress, summarize, type Summary } from "./stats.js";

// From 0 on a fresh channel: a subscriber that is slow to connect replays instead of missing records.
const SUBSCRIBE = `subscription($id: ID!) { sessionRecords(id: $id, io: OUT, fromSeqNum: 0) { seqNum data } }`;

interface Target {
  /** Opens n live subscribers; each calls onRecord(i) for the i-th appended record. */
  subscribe(n: number, onRecord: (i: number) => void): Promise<() => Promise<void>>;
  append(i: number): Promise<void>;
}

/** Sends `count` appends one at a time and times each record's arrival at every subscriber. */
async function measure(target: Target, subscribers: number, count: number): Promise<Summary> {
  const sent = new Map<number, number>();
  const arrived = new Map<number, number>();
  const samples: number[] = [];
  let waiting: (() => void) | undefined;
  const stop = await target.subscribe(subscribers, (i) => {
    samples.push(performance.now() - sent.get(i)!);
    const n = (arrived.get(i) ?? 0) + 1;
    arrived.set(i, n);
    if (n === subscribers) waiting?.();
  });
  // Give every subscriber time to connect before the clock starts.
  await new Promise((r) => setTimeout(r, 300 + subscribers * 3));
  for (let i = 0; i < count; i++) {
    const all = new Promise<void>((resolve, reject) => {
      waiting = resolve;
      setTimeout(() => reject(new Error(`record ${i}: ${arrived.get(i) ?? 0}/${subscribers} after 10s`)), 10_000).unref();
    });
    sent.set(i, performance.now());
    await target.append(i);
    await all;
  }
  await stop();
  return summarize(samples);
}

async function sessionsTarget(server: TestServer, transport: "ws" | "sse"): Promise<Target> {
  const { gql, secretKey } = await server.newEnvironment();
  const id = await createSessionId(gql, "bench");
  return {
    async subscribe(n, onRecord) {
      const stops: (() => void)[] = [];
      for (let k = 0; k < n; k++) {
        const sink = { next: (r: { data?: { sessionRecords: { data: number } } | null }) => r.data && onRecord(r.data.sessionRecords.data), error: () => {}, complete: () => {} };
        if (transport === "ws") {
          const c = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${secretKey}` }, lazy: false });
          const off = c.subscribe({ query: SUBSCRIBE, variables: { id } }, sink as never);
          stops.push(() => (off(), void c.dispose()));
        } else {
          const c = createSseClient({ url: `${server.url}/graphql/stream`, headers: { authorization: `Bearer ${secretKey}` } });
          const off = c.subscribe({ query: SUBSCRIBE, variables: { id } }, sink as never);
          stops.push(() => (off(), c.dispose()));
        }
      }
      return async () => stops.forEach((s) => s());
    },
    async append(i) {
      const r = await gql(`mutation($id: ID!, $d: JSON!) { appendToSession(id: $id, io: OUT, records: [{ data: $d }]) { lastSeqNum } }`, { id, d: i });
      if (r.errors) throw new Error(JSON.stringify(r.errors));
    },
  };
}

async function durableStreamsTarget(base: string, name: string): Promise<Target> {
  const url = `${base}/bench/${name}`;
  const handle = await DurableStream.create({ url, contentType: "application/json" });
  return {
    async subscribe(n, onRecord) {
      // Unsubscribing alone leaves the client's reconnect loop running; aborting ends it.
      const stop = new AbortController();
      setMaxListeners(0, stop.signal);
      for (let k = 0; k < n; k++) {
        const res = await stream<number>({ url, offset: "-1", live: "sse", signal: stop.signal });
        res.subscribeJson(async (batch) => batch.items.forEach((i) => onRecord(i)));
      }
      return async () => stop.abort();
    },
    async append(i) {
      await handle.append(JSON.stringify(i));
    },
  };
}

/** Append → delivery latency for 1, 100 and 1,000 subscribers: ours over WS and SSE, the peer over SSE. */
export async function deliveryLatency(opts: { subscriberCounts: number[]; appends: (subscribers: number) => number }) {
  const server = await startServer("postgres");
  const peer = new DurableStreamTestServer({ port: 0, dataDir: tempDir("ds-") });
  await peer.start();
  const rows: Record<string, unknown>[] = [];
  try {
    for (const n of opts.subscriberCounts) {
      const count = opts.appends(n);
      const results: Record<string, Summary> = {};
      for (const transport of ["ws", "sse"] as const) {
        progress(`delivery: sessions over ${transport}, ${n} subscriber(s), ${count} appends`);
        results[transport] = await measure(await sessionsTarget(server, transport), n, count);
      }
      progress(`delivery: durable-streams over sse, ${n} subscriber(s), ${count} appends`);
      results.peer = await measure(await durableStreamsTarget(peer.url, `s${n}`), n, count);
      for (const [name, s] of Object.entries(results)) {
        rows.push({
          system: name === "peer" ? "durable-streams (SSE)" : `sessions (${name.toUpperCase()})`,
          subscribers: n,
          p50Ms: s.p50,
          p99Ms: s.p99,
          "p50 vs peer": name === "peer" ? 1 : s.p50 / results.peer!.p50,
        });
      }
    }
    return rows;
  } finally {
    await peer.stop();
    await server.close();
  }
}
