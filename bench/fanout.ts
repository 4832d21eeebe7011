import { startServer } from "../tests/helpers/test-server.js";
import type { DeliveryTarget } from "./clients/delivery.js";
import { runClient } from "./load-process.js";
import { progress, type Summary } from "./stats.js";
import { startWsRelay } from "./ws-relay.js";

/** Records on each channel before the spread subscribers join: each replays a different part of them. */
const BACKLOG = 200;

/**
 * Append → delivery latency to many subscribers of one channel that joined at spread positions
 * (each replays a different backlog; half name the session by externalId, half by id), next to the
 * same-position case (all from 0, by id) and the bare relay floor, in one run. What real clients
 * look like after reconnects: the shared live path must serve them as well as identical ones.
 */
export async function fanoutLatency(opts: { subscribers: number; appends: number }) {
  const relay = await startWsRelay();
  const rows: Record<string, unknown>[] = [];
  try {
    const results: Record<string, Summary> = {};
    for (const transport of ["ws", "sse"] as const) {
      for (const spread of [false, true]) {
        results[`${transport} ${spread ? "spread" : "same"}`] = await fanoutCase(transport, spread, opts);
      }
    }
    progress(`fanout: bare ws relay (the floor), ${opts.subscribers} subscribers`);
    const floor = await runClient<Summary>("delivery", { target: { system: "ws-relay", url: relay.url }, subscribers: opts.subscribers, appends: opts.appends });
    for (const transport of ["ws", "sse"] as const) {
      const same = results[`${transport} same`]!;
      const spread = results[`${transport} spread`]!;
      rows.push({ case: `sessions (${transport.toUpperCase()}), same position`, p50Ms: same.p50, p99Ms: same.p99, "vs same": 1, "vs floor": same.p50 / floor.p50 });
      rows.push({ case: `sessions (${transport.toUpperCase()}), spread`, p50Ms: spread.p50, p99Ms: spread.p99, "vs same": spread.p50 / same.p50, "vs floor": spread.p50 / floor.p50 });
    }
    rows.push({ case: "bare ws relay (floor)", p50Ms: floor.p50, p99Ms: floor.p99, "vs same": null, "vs floor": 1 });
    return { subscribers: opts.subscribers, goal: "spread ≤ 1.2× same position; same position ≤ 1.5× the floor", rows };
  } finally {
    await relay.close();
  }
}

/**
 * One case on a server of its own: in one server each case ran after the garbage and the closing
 * connections of those before it, and the last (SSE, spread) came out a third slower than alone.
 */
async function fanoutCase(transport: "ws" | "sse", spread: boolean, opts: { subscribers: number; appends: number }): Promise<Summary> {
  const server = await startServer("postgres");
  try {
    const { gql, secretKey } = await server.newEnvironment();
    const name = `fanout-${transport}-${spread ? "spread" : "same"}-${Date.now().toString(36)}`;
    const created = await gql(`mutation($n: String!) { createSession(input: { type: "bench", externalId: $n }) { session { id } } }`, { n: name });
    const id = created.data!.createSession.session.id as string;
    if (spread) {
      const records = Array.from({ length: BACKLOG }, (_, b) => ({ data: { backlog: b, text: "x".repeat(200) } }));
      await gql(`mutation($id: ID!, $r: [AppendRecordInput!]!) { appendToSession(id: $id, io: OUT, records: $r) { lastSeqNum } }`, { id, r: records });
    }
    progress(`fanout: ${opts.subscribers} subscribers over ${transport}, ${spread ? "spread" : "same position"}, ${opts.appends} appends`);
    const target: DeliveryTarget = {
      system: "sessions",
      transport,
      url: server.url,
      wsUrl: server.wsUrl,
      key: secretKey,
      id,
      ...(spread && { spread: { name, backlog: BACKLOG } }),
    };
    return await runClient<Summary>("delivery", { target, subscribers: opts.subscribers, appends: opts.appends });
  } finally {
    await server.close();
  }
}
