// Three nodes, one client process: subscribers spread over the nodes with the typed client (each
// given all three URLs, its own node first), appends through the first node, append → delivery per
// subscriber timed on this one clock; then the second node is killed mid-stream (SIGKILL, by its
// pid) and its subscribers' way to another node is timed, and every subscriber's records counted.
import { setMaxListeners } from "node:events";
import WebSocket from "ws";
import { SessionsClient } from "../../client/src/index.js";
import { gqlClient } from "../../tests/helpers/test-server.js";
import { clientInput, clientResult } from "../load-process.js";
import { summarize } from "../stats.js";

interface Input {
  /** The nodes' base URLs; appends go through the first. */
  urls: string[];
  key: string;
  /** The process of the node killed mid-stream: urls[1]'s. */
  victimPid: number;
  subscribers: number;
  /** Appends before the kill (timed for delivery) and after it. */
  appends: number;
  /** Between appends, so that delivery is timed record by record, not as a burst. */
  gapMs: number;
}

const input = clientInput<Input>();
const APPEND = `mutation($id: ID!, $d: JSON!) { appendToSession(id: $id, io: OUT, records: [{ data: $d }]) { lastSeqNum } }`;
const gql = gqlClient(input.urls[0]!, input.key);
const created = await gql(`mutation { createSession(input: { type: "bench-nodes" }) { session { id } } }`);
const id = created.data!.createSession.session.id as string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const total = 1 + 2 * input.appends;
const sentAt: number[] = [];
let killedAt = 0;
/** Per subscriber: its node, the seqNums it got, and when it got its first record after the kill. */
const subs = Array.from({ length: input.subscribers }, (_, k) => ({
  node: k % input.urls.length,
  seen: [] as number[],
  afterKill: undefined as number | undefined,
  /** When it noticed its node was gone (its first reconnect after the kill). */
  noticed: undefined as number | undefined,
  delivery: [] as number[],
}));
let waiters: (() => boolean)[] = [];
const wake = () => (waiters = waiters.filter((w) => !w()));
/** Resolves once every subscriber holds `n` records, or after `ms` (then some never got them: counted as gaps). */
const allHave = (n: number, ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const check = () => subs.every((s) => s.seen.length >= n) && (clearTimeout(timer), resolve(), true);
    if (!check()) waiters.push(check);
  });

const stop = new AbortController();
// Every subscriber listens to it.
setMaxListeners(0, stop.signal);
const clients = subs.map((s) => {
  const urls = input.urls.map((_, i) => input.urls[(s.node + i) % input.urls.length]!);
  return new SessionsClient({ url: urls, token: input.key, transport: "ws", webSocketImpl: WebSocket });
});
const following = subs.map(async (s, k) => {
  try {
    for await (const record of clients[k]!.follow(id, "OUT", {
      fromSeqNum: 0,
      signal: stop.signal,
      onReconnect: () => void (killedAt && s.noticed === undefined && (s.noticed = performance.now() - killedAt)),
    })) {
      const now = performance.now();
      s.seen.push(record.seqNum);
      if (killedAt && s.afterKill === undefined) s.afterKill = now - killedAt;
      // Records 1..appends are timed: sent before the kill, to subscribers that were live.
      if (record.seqNum >= 1 && record.seqNum <= input.appends) s.delivery.push(now - sentAt[record.seqNum]!);
      wake();
      if (s.seen.length >= total) return;
    }
  } catch {
    // A subscriber that gave up shows as gaps.
  }
});

// Record 0 is the warm-up: once every subscriber has it, all are live on their nodes.
sentAt[0] = performance.now();
await gql(APPEND, { id, d: 0 });
await allHave(1, 120_000);
for (let i = 1; i <= input.appends; i++) {
  await sleep(input.gapMs);
  sentAt[i] = performance.now();
  await gql(APPEND, { id, d: i });
}
await allHave(1 + input.appends, 60_000);
killedAt = performance.now();
process.kill(input.victimPid, "SIGKILL");
for (let i = input.appends + 1; i < total; i++) {
  await sleep(input.gapMs);
  sentAt[i] = performance.now();
  await gql(APPEND, { id, d: i });
}
await allHave(total, 120_000);
stop.abort();
await Promise.all(following);
await Promise.all(clients.map((c) => c.close()));

const same = subs.filter((s) => s.node === 0).flatMap((s) => s.delivery);
const other = subs.filter((s) => s.node !== 0).flatMap((s) => s.delivery);
const moved = subs.filter((s) => s.node === 1);
let gaps = 0;
let duplicates = 0;
for (const s of subs) {
  const distinct = new Set(s.seen);
  duplicates += s.seen.length - distinct.size;
  gaps += total - [...distinct].filter((n) => n >= 0 && n < total).length;
  // Out of order counts as a gap too: the contract promises order.
  if (s.seen.some((n, i) => i > 0 && n <= s.seen[i - 1]!)) gaps++;
}
clientResult({
  sameNode: summarize(same),
  otherNode: summarize(other),
  reconnect: summarize(moved.map((s) => s.afterKill ?? Number.POSITIVE_INFINITY)),
  noticed: summarize(moved.map((s) => s.noticed ?? Number.POSITIVE_INFINITY)),
  moved: moved.length,
  gaps,
  duplicates,
});
process.exit(0);
