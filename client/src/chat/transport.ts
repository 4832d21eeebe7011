import type { ChatRequestOptions, ChatTransport, UIMessage, UIMessageChunk } from "ai";
import { AppendToSessionDocument, ChatSessionDocument, SendChatMessageDocument, type CreateSessionInput } from "../../generated/graphql.js";
import type { SessionsClient } from "../sessions-client.js";
import { findTurnStart, lastTurn } from "./channels.js";
import { chatClient, type ChatConnectionOptions } from "./connection.js";
import { CHAT_MESSAGE, CHAT_STOP, type ChatMessageRecord, type ChatStopRecord } from "./records.js";
import { turnStream } from "./turn-stream.js";

export interface SessionsChatTransportOptions extends ChatConnectionOptions {
  /**
   * Fields of the session created on a chat's first send (its externalId is always the chat id).
   * Default: `{ type: "chat" }`.
   */
  session?: Partial<CreateSessionInput>;
}

type SendOptions<M extends UIMessage> = Parameters<ChatTransport<M>["sendMessages"]>[0];
type ReconnectOptions = { chatId: string; abortSignal?: AbortSignal } & ChatRequestOptions;

/**
 * The AI SDK's ChatTransport over a session: `useChat({ id: chatId, transport })` talks to
 * whatever process runs `serveChat` for that chat, through the service alone.
 *
 * - sendMessages appends only the new user message to `in` (idempotency key: the message's id,
 *   so a retried send is stored once) and returns its reply, read from `out` and ending with the
 *   turn. The chat's session is created on the first send.
 * - reconnectToStream returns the reply in flight from its first chunk (resumeStreamIsReplay), or
 *   null when none is: a reloaded page shows the reply whole, once.
 * - Aborting a request (useChat's stop()) appends a stop record; the agent ends the reply.
 * - A closed session fails sends and replies with a SessionsError whose code is SESSION_CLOSED.
 */
export class SessionsChatTransport<M extends UIMessage = UIMessage> implements ChatTransport<M> {
  readonly resumeStreamIsReplay = true;
  private client: SessionsClient;

  constructor(private options: SessionsChatTransportOptions) {
    this.client = chatClient(options);
  }

  async sendMessages({ chatId, messages, abortSignal, trigger }: SendOptions<M>): Promise<ReadableStream<UIMessageChunk>> {
    const message = messages.at(-1);
    if (trigger !== "submit-message" || message?.role !== "user") {
      // The conversation lives in the channels, which only grow: an earlier reply cannot be replaced.
      throw new Error(`SessionsChatTransport sends new user messages only (got ${trigger} with a ${message?.role ?? "missing"} message)`);
    }
    const record: ChatMessageRecord<M> = { type: CHAT_MESSAGE, message };
    const sent = await this.client.request(SendChatMessageDocument, {
      input: { type: "chat", ...this.options.session, externalId: chatId },
      chatId,
      records: [{ data: record }],
      idempotencyKey: message.id,
    });
    const sessionId = sent.createSession.session.id;
    const inSeqNum = sent.appendToSession.firstSeqNum;
    let fromSeqNum = sent.createSession.session.out.tailSeqNum;
    let turn: number | undefined;
    if (sent.appendToSession.deduplicated) {
      // A retry of a send that was stored: its reply may have started before this tail.
      turn = await findTurnStart(this.client, sessionId, inSeqNum, fromSeqNum);
      if (turn !== undefined) fromSeqNum = turn;
    }
    return turnStream({ client: this.client, sessionId, fromSeqNum, inSeqNum, turn, abortSignal, stop: () => this.stop(sessionId, inSeqNum) });
  }

  async reconnectToStream({ chatId, abortSignal }: ReconnectOptions): Promise<ReadableStream<UIMessageChunk> | null> {
    const { session } = await this.client.request(ChatSessionDocument, { id: chatId });
    if (!session) return null;
    // Every `out` record of a turn names it: the last one says whether a reply is in flight.
    const last = await lastTurn(this.client, session.id, session.out.tailSeqNum);
    if (!last || last.ended) return null;
    return turnStream({
      client: this.client,
      sessionId: session.id,
      fromSeqNum: last.turn,
      inSeqNum: last.inSeqNum,
      turn: last.turn,
      abortSignal,
      stop: () => this.stop(session.id, last.inSeqNum),
    });
  }

  /** Asks the agent to stop the reply to in#inSeqNum (once: the key makes repeats no-ops). */
  private async stop(sessionId: string, inSeqNum: number) {
    const record: ChatStopRecord = { type: CHAT_STOP, inSeqNum };
    await this.client.request(AppendToSessionDocument, { id: sessionId, io: "IN", records: [{ data: record }], idempotencyKey: `chat-stop:${inSeqNum}` });
  }

  /** Closes this transport's connections (replies being read end). */
  async close(): Promise<void> {
    await this.client.close();
  }
}
