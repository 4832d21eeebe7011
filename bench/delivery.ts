import { DurableStreamTestServer } from "@durable-streams/server";
import { tempDir } from "../tests/helpers/backends.js";
import { createSessionId, startServer } from "../tests/helpers/test-server.js";
import type { DeliveryTarget } from "./clients/delivery.js";
import { runClient } from "./load-process.js";
import { startCaddyPeer } from "./caddy-peer.js";
import { startWsRelay } from "./ws-relay.js";
import { progress, type Summary } from "./stats.js";

/**
 * Append → delivery latency for 1, 100 and 1,000 subscribers: ours over WS and SSE; the production
 * Durable Streams server (Caddy plugin, Go: the strongest peer, whenever it can run here) and its
 * Node reference server, both over SSE with their own client; and a bare ws relay as the floor.
 * Ratios are against the Caddy peer when it ran, else the Node one. The servers run here; writer
 * and subscribers run together in a client process.
 */
export async function deliveryLatency(opts: { subscriberCounts: number[]; appends: (subscribers: number) => number }) {
  const server = await startServer("postgres");
  const peer = new DurableStreamTestServer({ port: 0, dataDir: tempDir("ds-") });
  await peer.start();
  const caddy = await startCaddyPeer();
  if ("unavailable" in caddy) progress(`delivery: the Caddy peer cannot run: ${caddy.unavailable}`);
  const relay = await startWsRelay();
  const rows: Record<string, unknown>[] = [];
  try {
    const { gql, secretKey } = await server.newEnvironment();
    for (const n of opts.subscriberCounts) {
      const appends = opts.appends(n);
      const results: Record<string, Summary> = {};
      for (const transport of ["ws", "sse"] as const) {
        progress(`delivery: sessions over ${transport}, ${n} subscriber(s), ${appends} appends`);
        const id = await createSessionId(gql, "bench");
        const target: DeliveryTarget = { system: "sessions", transport, url: server.url, wsUrl: server.wsUrl, key: secretKey, id };
        results[transport] = await runClient<Summary>("delivery", { target, subscribers: n, appends });
      }
      if ("url" in caddy) {
        progress(`delivery: durable-streams (Caddy) over sse, ${n} subscriber(s), ${appends} appends`);
        results.caddy = await runClient<Summary>("delivery", { target: { system: "durable-streams", url: `${caddy.url}/bench/s${n}` }, subscribers: n, appends });
      }
      progress(`delivery: durable-streams (Node reference) over sse, ${n} subscriber(s), ${appends} appends`);
      results.peer = await runClient<Summary>("delivery", { target: { system: "durable-streams", url: `${peer.url}/bench/s${n}` }, subscribers: n, appends });
      progress(`delivery: bare ws relay (the floor), ${n} subscriber(s), ${appends} messages`);
      results.floor = await runClient<Summary>("delivery", { target: { system: "ws-relay", url: relay.url }, subscribers: n, appends });
      const names: Record<string, string> = {
        ws: "sessions (WS)",
        sse: "sessions (SSE)",
        caddy: "durable-streams Caddy (SSE)",
        peer: "durable-streams Node (SSE)",
        floor: "bare ws relay (floor)",
      };
      const against = results.caddy ?? results.peer!;
      for (const [name, s] of Object.entries(results)) {
        rows.push({ system: names[name], subscribers: n, p50Ms: s.p50, p99Ms: s.p99, "p50 vs peer": s.p50 / against.p50 });
      }
    }
    return rows;
  } finally {
    await peer.stop();
    if ("stop" in caddy) caddy.stop();
    await relay.close();
    await server.close();
  }
}
