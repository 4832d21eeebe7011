import { generateId as defaultGenerateId, safeValidateUIMessages, type UIMessage, type UIMessageChunk } from "ai";
import {
  AppendToSessionDocument,
  ChatSessionDocument,
  CreateChatSessionDocument,
  CreateWaitpointDocument,
  WaitpointChangedDocument,
  type CreateSessionInput,
  type SessionIo,
} from "../../generated/graphql.js";
import { SessionsError, type SessionsClient } from "../sessions-client.js";
import { lastTurn } from "./channels.js";
import { ChunkBatcher } from "./chunk-batcher.js";
import { chatClient, type ChatConnectionOptions } from "./connection.js";
import { ChatConversation } from "./conversation.js";
import {
  CHAT_CHUNKS,
  CHAT_TURN_END,
  CHAT_TURN_START,
  isChatMessageRecord,
  isChatStopRecord,
  type ChatChunksRecord,
  type ChatTurnEndReason,
  type ChatTurnEndRecord,
  type ChatTurnStartRecord,
} from "./records.js";
import { isFinal, isSessionClosed, pause, retrying } from "./retry.js";

/** What `respond` may return: exactly what `streamText(...).toUIMessageStream()` gives, or any async iterable of chunks. */
export type ChunkSource = ReadableStream<UIMessageChunk> | AsyncIterable<UIMessageChunk>;

export interface RespondArgs<M extends UIMessage = UIMessage> {
  /** The conversation up to and including the message to answer (earlier replies as far as they got). */
  messages: M[];
  /** The user message to answer (the last of `messages`). */
  message: M;
  /** Aborted when a client stops the reply (useChat's stop()) or the server is closed. */
  abortSignal: AbortSignal;
  chatId: string;
  /** The reply's id, used for its `start` chunk unless that chunk brings its own messageId. */
  replyId: string;
}

export type ServeChatEvent<M extends UIMessage = UIMessage> =
  | { type: "waiting"; inSeqNum: number }
  | { type: "turn-start"; inSeqNum: number; turn: number; message: M }
  | { type: "turn-end"; inSeqNum: number; turn: number; reason: ChatTurnEndReason };

export interface ServeChatOptions<M extends UIMessage = UIMessage> extends ChatConnectionOptions {
  /** The chat to serve: its session's externalId (the session is created when missing). */
  chatId: string;
  /** Answers one user message with a stream of UIMessageChunks; called once per message. */
  respond: (args: RespondArgs<M>) => ChunkSource | Promise<ChunkSource>;
  /** Fields of the session when serveChat creates it (its externalId is always chatId). Default: `{ type: "chat" }`. */
  session?: Partial<CreateSessionInput>;
  /** How long one waitpoint waits before it is renewed, e.g. "10m" (at most "7d"). Default "1h". */
  waitTimeout?: string;
  /** Largest chunk record, in bytes of JSON (the service takes 1 MiB). Default 256 KiB. */
  maxRecordBytes?: number;
  /** Makes reply ids. Default: the AI SDK's generateId. */
  generateId?: () => string;
  /** Progress, for logs and tests: waiting for a message, a turn starting, a turn ending. Default: none. */
  onEvent?: (event: ServeChatEvent<M>) => void;
  /** Failures that do not stop serving (a respond that threw, a lost connection). Default: console.error. */
  onError?: (error: unknown) => void;
}

export interface ChatServer {
  /** Stops serving: a reply in flight is aborted and its turn ended as "interrupted". */
  close(): Promise<void>;
  /** Settles when serving ends: close(), or the session was closed. Never rejects (see onError). */
  done: Promise<void>;
}

/**
 * The agent loop of a chat, in any process: waits for user messages on `in` with waitpoints,
 * answers each once with `respond`, streams the reply's chunks to `out` (coalesced) between a
 * turn-start and a turn-end record, and aborts `respond` when a stop record arrives.
 *
 * Restarts lose nothing and repeat nothing: the last turn on `out` says which `in` message was
 * answered last, so a new serveChat answers what came after it (a message waiting while no agent
 * ran included) and nothing older; a turn its predecessor left unfinished is ended as
 * "interrupted". Every record it appends carries an idempotency key, so retried appends land
 * once, and two agents on one chat never answer the same message twice (the turn-start's key
 * decides which one does).
 */
export function serveChat<M extends UIMessage = UIMessage>(o: ServeChatOptions<M>): ChatServer {
  const client = chatClient(o);
  const closing = new AbortController();
  const onError = o.onError ?? ((error: unknown) => console.error("serveChat:", error));
  const generateId = o.generateId ?? defaultGenerateId;
  const done = run(client, o, closing.signal, onError, generateId)
    .catch((error: unknown) => {
      if (!closing.signal.aborted && !isSessionClosed(error)) onError(error);
    })
    .finally(() => client.close());
  return {
    done,
    async close() {
      closing.abort();
      await done;
    },
  };
}

async function run<M extends UIMessage>(client: SessionsClient, o: ServeChatOptions<M>, closing: AbortSignal, onError: (e: unknown) => void, generateId: () => string) {
  const { createSession } = await retrying(() => client.request(CreateChatSessionDocument, { input: { type: "chat", ...o.session, externalId: o.chatId } }), closing);
  const { session } = await retrying(() => client.request(ChatSessionDocument, { id: createSession.session.id }), closing);
  if (!session || session.status !== "ACTIVE") return;
  const id = session.id;
  const append = (io: SessionIo, data: unknown[], idempotencyKey: string, signal?: AbortSignal) =>
    retrying(async () => (await client.request(AppendToSessionDocument, { id, io, records: data.map((d) => ({ data: d })), idempotencyKey })).appendToSession, signal);

  // Where the last agent got to: the `in` message its last turn answered.
  const last = await retrying(() => lastTurn(client, id, session.out.tailSeqNum), closing);
  if (last && !last.ended) {
    const end: ChatTurnEndRecord = { type: CHAT_TURN_END, turn: last.turn, inSeqNum: last.inSeqNum, reason: "interrupted" };
    await append("OUT", [end], `chat-turn-end:${last.turn}`, closing);
  }
  const conversation = new ChatConversation<M>(client, id, { in: session.in.headSeqNum, out: session.out.headSeqNum });
  const turns = new Turns<M>(client, o, id, append, conversation, closing, onError, generateId);
  const wait = (after: number) => {
    const waiting = waitFor(client, id, after, o.waitTimeout ?? "1h", closing);
    // Awaited below unless a turn fails first: then its failure is not news.
    waiting.catch(() => {});
    return waiting;
  };
  let next = last ? last.inSeqNum + 1 : session.in.headSeqNum;
  let waiting = wait(next);
  while (!closing.aborted) {
    o.onEvent?.({ type: "waiting", inSeqNum: next });
    const record = await waiting;
    if (!record) return;
    next = record.seqNum + 1;
    // The next waitpoint is made while this record is handled, so the message after a turn wakes
    // the agent as soon as it lands, not after a create and a subscribe that follow the turn.
    waiting = wait(next);
    // Stop records and anything else on `in` are not messages to answer.
    if (isChatMessageRecord(record.data)) await turns.answer(record.seqNum, record.data.message as M);
  }
}

/**
 * The record at in#after, once it exists: a waitpoint (no polling; one that already has its
 * record completes at once, so messages sent while no agent ran are found too), watched through
 * waitpointChanged. Its idempotency key makes a restarted agent reuse the same waitpoint.
 * Undefined when `closing` aborts.
 */
async function waitFor(client: SessionsClient, id: string, after: number, timeout: string, closing: AbortSignal) {
  for (let renewal = 0; !closing.aborted; renewal++) {
    const idempotencyKey = renewal === 0 ? `serve-chat:${after}` : `serve-chat:${after}:${Date.now()}`;
    const { createSessionWaitpoint } = await retrying(
      () => client.request(CreateWaitpointDocument, { input: { session: id, io: "IN", afterSeqNum: after, timeout, idempotencyKey } }),
      closing,
    );
    let state: { status: string; record?: { seqNum: number; data: unknown } | null } | undefined = createSessionWaitpoint.waitpoint;
    if (state.status === "PENDING") state = await watch(client, createSessionWaitpoint.waitpoint.id, closing);
    if (!state) return undefined;
    if (state.status === "COMPLETED" && state.record) return state.record;
    // Timed out: a new waitpoint, with a new key.
  }
  return undefined;
}

/** The waitpoint's state once it is no longer PENDING, resubscribing after lost connections. */
async function watch(client: SessionsClient, waitpointId: string, closing: AbortSignal) {
  for (let failures = 0, renewals = 0; !closing.aborted; ) {
    try {
      for await (const { waitpointChanged } of client.subscribe(WaitpointChangedDocument, { id: waitpointId }, closing)) {
        if (waitpointChanged.status !== "PENDING") return waitpointChanged;
        failures = 0;
      }
    } catch (error) {
      const renew = error instanceof SessionsError && error.code === "UNAUTHENTICATED" && client.renewsToken && renewals++ < 3;
      if (isFinal(error) && !renew) throw error;
    }
    // Ended without a verdict (a dropped connection): subscribe again, which sends the state now.
    await pause(Math.min(5_000, 100 * 2 ** failures++), closing);
  }
  return undefined;
}

/** Answering messages: one turn each. */
class Turns<M extends UIMessage> {
  constructor(
    private client: SessionsClient,
    private o: ServeChatOptions<M>,
    private id: string,
    private append: (io: SessionIo, data: unknown[], key: string, signal?: AbortSignal) => Promise<{ firstSeqNum: number; deduplicated: boolean }>,
    private conversation: ChatConversation<M>,
    private closing: AbortSignal,
    private onError: (e: unknown) => void,
    private generateId: () => string,
  ) {}

  async answer(inSeqNum: number, message: M) {
    const replyId = this.generateId();
    const startRecord: ChatTurnStartRecord = { type: CHAT_TURN_START, inSeqNum, messageId: message.id, replyId };
    // The turn-start and reading what is new on the channels go together: the first chunk waits for neither twice.
    const [start] = await Promise.all([this.append("OUT", [startRecord], `chat-turn:${inSeqNum}`, this.closing), this.conversation.sync()]);
    // Another agent took this message (its turn-start holds the key): it answers, not this one.
    if (start.deduplicated) return;
    const turn = start.firstSeqNum;
    this.o.onEvent?.({ type: "turn-start", inSeqNum, turn, message });

    const stop = new AbortController();
    // Stopped before it began (the page gave up waiting): read with the conversation just now.
    if (this.conversation.stopped(inSeqNum)) stop.abort();
    const interrupt = () => stop.abort();
    this.closing.addEventListener("abort", interrupt, { once: true });
    const watching = new AbortController();
    void this.watchStops(inSeqNum, stop, watching.signal);
    const batcher = new ChunkBatcher({
      maxRecordBytes: this.o.maxRecordBytes,
      write: async (lists, batch) => {
        const records = lists.map((chunks): ChatChunksRecord => ({ type: CHAT_CHUNKS, turn, inSeqNum, chunks }));
        await this.append("OUT", records, `chat-chunks:${turn}:${batch}`);
      },
    });

    let first = true;
    const emit = (chunk: UIMessageChunk) => {
      // Every reply opens with a start chunk naming it, so every reader gives it the same id.
      if (first && chunk.type !== "start") batcher.push({ type: "start", messageId: replyId });
      first = false;
      batcher.push(chunk.type === "start" && !chunk.messageId ? { ...chunk, messageId: replyId } : chunk);
    };
    let reason: ChatTurnEndReason = "finished";
    const stopped = (): ChatTurnEndReason => (this.closing.aborted ? "interrupted" : "stopped");
    try {
      const valid = await safeValidateUIMessages<M>({ messages: [message] });
      if (!valid.success) throw new Error(`in#${inSeqNum} is not a valid UI message: ${valid.error.message}`);
      const messages = await this.conversation.messages({ through: inSeqNum });
      if (stop.signal.aborted) throw stop.signal.reason;
      const source = await this.o.respond({ messages, message, abortSignal: stop.signal, chatId: this.o.chatId, replyId });
      for await (const chunk of untilAborted(source, stop.signal)) emit(chunk);
      if (stop.signal.aborted) reason = stopped();
    } catch (error) {
      if (isSessionClosed(error)) throw error;
      if (stop.signal.aborted) reason = stopped();
      else {
        reason = "error";
        this.onError(error);
        try {
          emit({ type: "error", errorText: error instanceof Error ? error.message : String(error) });
        } catch {
          // The batcher failed already; flush() reports it.
        }
      }
    } finally {
      watching.abort();
      this.closing.removeEventListener("abort", interrupt);
    }
    try {
      await batcher.flush();
    } catch (error) {
      if (isSessionClosed(error)) throw error;
      this.onError(error);
      reason = "error";
    }
    const end: ChatTurnEndRecord = { type: CHAT_TURN_END, turn, inSeqNum, reason };
    // Not cut short by close(): a closing agent still ends its turn for the clients reading it.
    await this.append("OUT", [end], `chat-turn-end:${turn}`);
    this.o.onEvent?.({ type: "turn-end", inSeqNum, turn, reason });
  }

  /** Aborts `stop` when a stop record for in#inSeqNum arrives (one sent before the turn began included). */
  private async watchStops(inSeqNum: number, stop: AbortController, signal: AbortSignal) {
    try {
      for await (const { data } of this.client.follow(this.id, "IN", { fromSeqNum: inSeqNum + 1, signal })) {
        if (isChatStopRecord(data) && data.inSeqNum === inSeqNum) return stop.abort();
      }
    } catch (error) {
      if (!signal.aborted && !isSessionClosed(error)) this.onError(error);
    }
  }
}

/**
 * The chunks of `source` until `signal` aborts; then the source is cancelled, so a stop takes
 * effect at once even when `respond` does not watch its abortSignal.
 */
async function* untilAborted(source: ChunkSource, signal: AbortSignal): AsyncGenerator<UIMessageChunk> {
  let next: () => Promise<IteratorResult<UIMessageChunk>>;
  let end: () => Promise<unknown>;
  if (source instanceof ReadableStream) {
    const reader = source.getReader();
    next = async () => {
      const r = await reader.read();
      return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
    };
    end = () => reader.cancel();
  } else {
    const iterator = source[Symbol.asyncIterator]();
    next = () => iterator.next();
    end = async () => iterator.return?.();
  }
  let onAbort = () => {};
  const aborted = new Promise<"aborted">((resolve) => {
    onAbort = () => resolve("aborted");
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    for (;;) {
      const pending = next();
      // Left behind when a stop wins the race: its failure (after the cancel) is nobody's.
      pending.catch(() => {});
      const result = await Promise.race([pending, aborted]);
      if (result === "aborted" || result.done) return;
      yield result.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    void end().catch(() => {});
  }
}
