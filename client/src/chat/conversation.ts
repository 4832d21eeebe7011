import { readUIMessageStream, safeValidateUIMessages, type UIMessage, type UIMessageChunk } from "ai";
import type { SessionsClient } from "../sessions-client.js";
import { readChannel, type StoredRecord } from "./channels.js";
import { isChatChunksRecord, isChatMessageRecord, isChatStopRecord, isChatTurnEndRecord, isChatTurnStartRecord, type ChatTurnEndReason } from "./records.js";

interface Reply<M extends UIMessage> {
  turn: number;
  replyId: string;
  chunks: UIMessageChunk[];
  reason?: ChatTurnEndReason;
  /** The message the chunks build, kept until more chunks arrive. */
  built?: M;
}

/**
 * A chat's conversation, folded from its two channels: user messages from `in`, each followed by
 * the reply its turn on `out` built (the AI SDK's readUIMessageStream applied to the turn's
 * chunks, so a reply reads exactly as the streaming client saw it). `sync()` reads only what was
 * appended since the last call, so an agent keeps one and syncs before every turn.
 */
export class ChatConversation<M extends UIMessage = UIMessage> {
  private users = new Map<number, M>();
  private replies = new Map<number, Reply<M>>();
  private stops = new Set<number>();
  /** Whether each user message is a valid UI message, checked once (see messages()). */
  private validity = new Map<number, Promise<boolean>>();

  /** `from`: where to start reading each channel (its headSeqNum: anything older was trimmed). */
  constructor(
    private client: SessionsClient,
    private sessionId: string,
    private next: { in: number; out: number } = { in: 0, out: 0 },
  ) {}

  /** Reads both channels up to their tails. */
  async sync(): Promise<void> {
    await Promise.all([this.read("IN"), this.read("OUT")]);
  }

  private async read(io: "IN" | "OUT") {
    const key = io === "IN" ? "in" : "out";
    for await (const record of readChannel(this.client, this.sessionId, io, this.next[key])) {
      if (io === "IN") this.foldIn(record);
      else this.foldOut(record);
      this.next[key] = record.seqNum + 1;
    }
  }

  private foldIn({ seqNum, data }: StoredRecord) {
    if (isChatMessageRecord(data)) this.users.set(seqNum, data.message as M);
    else if (isChatStopRecord(data)) this.stops.add(data.inSeqNum);
  }

  private foldOut({ seqNum, data }: StoredRecord) {
    if (isChatTurnStartRecord(data)) {
      // One reply per message: a second turn-start for it (two agents racing) is not its reply.
      if (!this.replies.has(data.inSeqNum)) this.replies.set(data.inSeqNum, { turn: seqNum, replyId: data.replyId, chunks: [] });
      return;
    }
    const reply = (isChatChunksRecord(data) || isChatTurnEndRecord(data)) && this.replies.get(data.inSeqNum);
    if (!reply || reply.turn !== (data as { turn: number }).turn) return;
    if (isChatChunksRecord(data)) {
      reply.chunks.push(...data.chunks);
      reply.built = undefined;
    } else if (isChatTurnEndRecord(data)) reply.reason = data.reason;
  }

  /** Where the next read of each channel starts: everything before was folded in. */
  get cursor(): { in: number; out: number } {
    return { ...this.next };
  }

  /** The `in` seqNums of the user messages, in order. */
  get userSeqNums(): number[] {
    return [...this.users.keys()];
  }

  /** Whether a stop record for the reply to in#inSeqNum was read. */
  stopped(inSeqNum: number): boolean {
    return this.stops.has(inSeqNum);
  }

  user(inSeqNum: number): M | undefined {
    return this.users.get(inSeqNum);
  }

  /**
   * The conversation in order: each user message, then its reply (partial while in flight; left
   * out while it has no parts yet). `through`: stop at the user message at that `in` seqNum,
   * without its reply (what an agent answering it passes to the model).
   */
  async messages(opts: { through?: number } = {}): Promise<M[]> {
    const out: M[] = [];
    for (const [seqNum, user] of this.users) {
      if (opts.through !== undefined && seqNum > opts.through) break;
      // A message the AI SDK refuses was answered with an error once; kept in the history, it
      // would fail every later turn of the chat too. The one being answered is checked by its turn.
      if (seqNum !== opts.through && !(await this.valid(seqNum, user))) continue;
      out.push(user);
      if (seqNum === opts.through) break;
      const reply = this.replies.get(seqNum);
      if (!reply) continue;
      reply.built ??= await build<M>(reply);
      if (reply.built.parts.length > 0) out.push(reply.built);
    }
    return out;
  }

  private valid(seqNum: number, user: M): Promise<boolean> {
    let valid = this.validity.get(seqNum);
    if (!valid) this.validity.set(seqNum, (valid = safeValidateUIMessages<M>({ messages: [user] }).then((r) => r.success)));
    return valid;
  }
}

/** The reply a turn's chunks make, as the AI SDK's own reader builds it. */
async function build<M extends UIMessage>(reply: Reply<M>): Promise<M> {
  const stream = new ReadableStream<UIMessageChunk>({
    start(controller) {
      for (const chunk of reply.chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  let last: M | undefined;
  // An `error` chunk is part of the reply (the UI shows it), not a failure to read it.
  for await (const message of readUIMessageStream<M>({ stream, onError: () => {} })) last = message;
  return { ...(last ?? ({ role: "assistant", parts: [] } as unknown as M)), id: last?.id || reply.replyId };
}
