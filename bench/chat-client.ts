// The chat bench's client process: serveChat (the agent) and SessionsChatTransport (the page) side
// by side, so one clock times a chunk from the moment respond hands it over to the moment the
// transport's reader has it. The floor reads the same respond in this process, with no service.
import type { UIMessageChunk } from "ai";
import WebSocket from "ws";
import { AppendToSessionDocument, ChatSessionDocument, CreateSessionDocument } from "../client/generated/graphql.js";
import { serveChat, SessionsChatTransport, SessionsClient } from "../client/src/index.js";
import { clientInput, clientResult } from "./load-process.js";
import { summarize, type Summary } from "./stats.js";

export interface ChatBenchInput {
  url: string;
  key: string;
  /**
   * "floor" calls respond in-process and reads its stream directly; "append" times one append →
   * delivery to a subscriber (WS) under the same conditions: the service's own step, for scale.
   */
  path: "sse" | "ws" | "floor" | "append";
  turns: number;
  /** Text deltas per reply. */
  chunks: number;
  /** Pause between deltas, as a model streaming 1000/gapMs tokens a second. */
  gapMs: number;
}

export interface ChatBenchResult {
  firstChunk: Summary;
  delivery: Summary;
  recordsPerTurn: number;
}

const input = clientInput<ChatBenchInput>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let emitted = new Map<number, number>();

/** A reply of `chunks` deltas, "<i>|" each, every gapMs: the time each is handed over is kept. */
function respond(): ReadableStream<UIMessageChunk> {
  emitted = new Map();
  let i = -1;
  return new ReadableStream<UIMessageChunk>({
    async pull(c) {
      if (i === -1) {
        c.enqueue({ type: "start" });
        c.enqueue({ type: "text-start", id: "t" });
      } else if (i < input.chunks) {
        if (i > 0) await sleep(input.gapMs);
        emitted.set(i, performance.now());
        c.enqueue({ type: "text-delta", id: "t", delta: `${i}|` });
      } else {
        c.enqueue({ type: "text-end", id: "t" });
        c.enqueue({ type: "finish" });
        c.close();
      }
      i++;
    },
  });
}

const firstChunk: number[] = [];
const delivery: number[] = [];
/** Reads a reply, timing its first delta from `started` and every delta from its emission. */
async function read(stream: ReadableStream<UIMessageChunk>, started: number, warm: boolean) {
  let first = true;
  for await (const chunk of stream as unknown as AsyncIterable<UIMessageChunk>) {
    if (chunk.type !== "text-delta") continue;
    const now = performance.now();
    if (warm && first) firstChunk.push(now - started);
    first = false;
    // Coalesced deltas carry several: each counts from its own emission.
    for (const n of chunk.delta.split("|").filter(Boolean)) if (warm) delivery.push(now - emitted.get(Number(n))!);
  }
}

const warmup = 3;
let recordsPerTurn = 0;
if (input.path === "floor") {
  for (let turn = 0; turn < input.turns + warmup; turn++) {
    const started = performance.now();
    await read(respond(), started, turn >= warmup);
  }
} else if (input.path === "append") {
  const client = new SessionsClient({ url: input.url, token: input.key, transport: "ws", webSocketImpl: WebSocket });
  const id = (await client.request(CreateSessionDocument, { input: { type: "bench" } })).createSession.session.id;
  const stop = new AbortController();
  const sent: number[] = [];
  let arrived: () => void = () => {};
  const following = (async () => {
    for await (const r of client.follow(id, "OUT", { fromSeqNum: 0, signal: stop.signal })) {
      if (r.seqNum >= warmup) delivery.push(performance.now() - sent[r.seqNum]!);
      arrived();
    }
  })();
  for (let n = 0; n < input.turns * 10 + warmup; n++) {
    const delivered = new Promise<void>((r) => (arrived = r));
    sent[n] = performance.now();
    await client.request(AppendToSessionDocument, { id, io: "OUT", records: [{ data: n }] });
    await delivered;
  }
  stop.abort();
  await following;
  await client.close();
} else {
  const chatId = `bench-chat-${input.path}-${Date.now().toString(36)}`;
  const connection = { url: input.url, token: input.key, transport: input.path, webSocketImpl: WebSocket };
  const agent = serveChat({ ...connection, chatId, respond });
  const transport = new SessionsChatTransport(connection);
  for (let turn = 0; turn < input.turns + warmup; turn++) {
    const message = { id: `m${turn}`, role: "user" as const, parts: [{ type: "text" as const, text: `turn ${turn}` }] };
    const started = performance.now();
    const stream = await transport.sendMessages({ chatId, messages: [message], trigger: "submit-message", messageId: undefined, abortSignal: undefined });
    await read(stream, started, turn >= warmup);
  }
  const client = new SessionsClient({ url: input.url, token: input.key });
  const { session } = await client.request(ChatSessionDocument, { id: chatId });
  // Turn-start and turn-end included.
  recordsPerTurn = session!.out.tailSeqNum / (input.turns + warmup);
  await Promise.all([agent.close(), transport.close(), client.close()]);
}
clientResult({ firstChunk: summarize(firstChunk), delivery: summarize(delivery), recordsPerTurn } satisfies ChatBenchResult);
process.exit(0);
