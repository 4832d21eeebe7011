// Append → delivery latency, measured from a process of its own that both appends and subscribes,
// so one clock times both ends. Input: the target and the number of subscribers and appends.
import { setMaxListeners } from "node:events";
import { DurableStream, stream } from "@durable-streams/client";
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import { gqlClient } from "../../tests/helpers/test-server.js";
import { clientInput, clientResult } from "../load-process.js";
import { summarize } from "../stats.js";

export type DeliveryTarget =
  | {
      system: "sessions";
      transport: "ws" | "sse";
      url: string;
      wsUrl: string;
      key: string;
      id: string;
      /**
       * Spread joins (the fanout bench): subscriber k starts at seqNum k % backlog of a channel that
       * holds `backlog` records already, and every other one names the session by `name` instead of
       * its id. Default: all from 0 by id.
       */
      spread?: { name: string; backlog: number };
    }
  | { system: "durable-streams"; url: string }
  | { system: "ws-relay"; url: string };

interface Target {
  /** Opens n live subscribers; each calls onRecord(i) for the i-th appended record. */
  subscribe(n: number, onRecord: (i: number) => void): Promise<() => Promise<void>>;
  append(i: number): Promise<void>;
}

// From 0 on a fresh channel: a subscriber that is slow to connect replays instead of missing records.
const SUBSCRIBE = `subscription($id: ID!, $from: SeqNum) { sessionRecords(id: $id, io: OUT, fromSeqNum: $from) { seqNum data } }`;
const APPEND = `mutation($id: ID!, $d: JSON!) { appendToSession(id: $id, io: OUT, records: [{ data: $d }]) { lastSeqNum } }`;

function sessionsTarget(t: Extract<DeliveryTarget, { system: "sessions" }>): Target {
  const gql = gqlClient(t.url, t.key);
  return {
    async subscribe(n, onRecord) {
      const stops: (() => void)[] = [];
      for (let k = 0; k < n; k++) {
        // Backlog records (the spread case) are no appended index: only numbers are timed.
        const sink = {
          next: (r: { data?: { sessionRecords: { data: unknown } } | null }) => typeof r.data?.sessionRecords.data === "number" && onRecord(r.data.sessionRecords.data),
          error: () => {},
          complete: () => {},
        };
        const variables = t.spread ? { id: k % 2 ? t.spread.name : t.id, from: k % t.spread.backlog } : { id: t.id, from: 0 };
        if (t.transport === "ws") {
          const c = createWsClient({ url: t.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${t.key}` }, lazy: false });
          const off = c.subscribe({ query: SUBSCRIBE, variables }, sink as never);
          stops.push(() => (off(), void c.dispose()));
        } else {
          const c = createSseClient({ url: `${t.url}/graphql/stream`, headers: { authorization: `Bearer ${t.key}` } });
          const off = c.subscribe({ query: SUBSCRIBE, variables }, sink as never);
          stops.push(() => (off(), c.dispose()));
        }
      }
      return async () => stops.forEach((s) => s());
    },
    async append(i) {
      const r = await gql(APPEND, { id: t.id, d: i });
      if (r.errors) throw new Error(JSON.stringify(r.errors));
    },
  };
}

async function durableStreamsTarget(url: string): Promise<Target> {
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

async function wsRelayTarget(url: string): Promise<Target> {
  const open = async () => {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    return socket;
  };
  const writer = await open();
  return {
    async subscribe(n, onRecord) {
      const sockets = await Promise.all(Array.from({ length: n }, open));
      for (const s of sockets) s.on("message", (m) => onRecord(JSON.parse(m.toString()).payload.data.sessionRecords.data));
      return async () => sockets.forEach((s) => s.close());
    },
    async append(i) {
      // The same frame graphql-ws would carry for a record.
      writer.send(JSON.stringify({ id: "1", type: "next", payload: { data: { sessionRecords: { seqNum: i, data: i } } } }));
    },
  };
}

/** Warm-up appends first, whose arrivals are not counted: they pay for the JIT, on every target alike. */
const WARM_UP = 5;

/** Sends `count` appends one at a time and times each record's arrival at every subscriber. */
async function measure(target: Target, subscribers: number, count: number) {
  const sent = new Map<number, number>();
  const arrived = new Map<number, number>();
  const samples: number[] = [];
  let waiting: (() => void) | undefined;
  const stop = await target.subscribe(subscribers, (i) => {
    if (i >= WARM_UP) samples.push(performance.now() - sent.get(i)!);
    const n = (arrived.get(i) ?? 0) + 1;
    arrived.set(i, n);
    if (n === subscribers) waiting?.();
  });
  // Give every subscriber time to connect before the clock starts.
  await new Promise((r) => setTimeout(r, 300 + subscribers * 3));
  for (let i = 0; i < WARM_UP + count; i++) {
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

const input = clientInput<{ target: DeliveryTarget; subscribers: number; appends: number }>();
const target =
  input.target.system === "sessions"
    ? sessionsTarget(input.target)
    : input.target.system === "ws-relay"
      ? await wsRelayTarget(input.target.url)
      : await durableStreamsTarget(input.target.url);
clientResult(await measure(target, input.subscribers, input.appends));
process.exit(0);
