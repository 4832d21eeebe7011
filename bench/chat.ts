import { startServer } from "../tests/helpers/test-server.js";
import type { ChatBenchInput, ChatBenchResult } from "./chat-client.js";
import { runClient } from "./load-process.js";
import { progress } from "./stats.js";

const fmt = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

/**
 * A chat turn through the service against the floor: time from sending a message to the reply's
 * first delta at the reader, and from respond handing a delta over to the reader having it,
 * through SessionsChatTransport (SSE and WS) with serveChat as the agent, and calling respond
 * in-process. Agent and reader share one client process (one clock); the service runs here.
 */
export async function chatBench(opts: { turns: number; chunks: number; gapMs: number }) {
  const server = await startServer("postgres");
  const rows: Record<string, unknown>[] = [];
  try {
    const { secretKey } = await server.newEnvironment();
    const names = {
      sse: "SessionsChatTransport (SSE)",
      ws: "SessionsChatTransport (WS)",
      floor: "respond in-process (floor)",
      append: "one append → subscriber (WS), for scale",
    } as const;
    for (const path of ["sse", "ws", "floor", "append"] as const) {
      progress(`chat: ${names[path]}, ${opts.turns} turns of ${opts.chunks} deltas every ${opts.gapMs} ms`);
      const r = await runClient<ChatBenchResult>("../chat-client", { url: server.url, key: secretKey, path, ...opts } satisfies ChatBenchInput);
      rows.push({
        path: names[path],
        "first chunk p50": path === "append" ? "" : r.firstChunk.p50,
        "first chunk p99": path === "append" ? "" : r.firstChunk.p99,
        "chunk→reader p50": r.delivery.p50,
        "chunk→reader p99": r.delivery.p99,
        "records/turn": path === "append" ? "" : r.recordsPerTurn,
      });
    }
    console.log(`\nChat turn through SessionsChatTransport + serveChat vs calling respond in-process, local store on PostgreSQL`);
    console.log(`(${opts.turns} turns of ${opts.chunks} text deltas, one every ${opts.gapMs} ms; ms; records/turn counts turn-start and turn-end)`);
    console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "number" && k !== "records/turn" ? fmt(v) : typeof v === "number" ? v.toFixed(1) : v]))));
    return rows;
  } finally {
    await server.close();
  }
}
