import type { UIMessage } from "ai";
import { ChatSessionDocument, type SessionStatus } from "../../generated/graphql.js";
import type { SessionsClient } from "../sessions-client.js";
import { chatClient, type ChatConnectionOptions } from "./connection.js";
import { ChatConversation } from "./conversation.js";

export interface LoadChatOptions extends ChatConnectionOptions {
  /** The chat's id: its session's externalId (a friendly id `session_…` works too). */
  chatId: string;
}

/** A chat as stored now: its messages, and where each channel's next record will be. */
export interface ChatSnapshot<M extends UIMessage = UIMessage> {
  messages: M[];
  /** The session's friendly id; undefined when the chat was never started. */
  sessionId: string | undefined;
  /** ACTIVE, CLOSED or EXPIRED; ACTIVE for a chat not started yet (its first send creates it). */
  status: SessionStatus;
  /** Follow `out` from here for what comes after this snapshot. */
  outTailSeqNum: number;
  /** Follow `in` from here for what comes after this snapshot. */
  inTailSeqNum: number;
  /**
   * True when the start of the conversation is gone (trimSessionChannel or record retention moved
   * a channel's headSeqNum past 0): `messages` then begins mid-conversation, from the heads, and a
   * page should say so rather than show it as the whole chat.
   */
  historyTrimmed: boolean;
}

/**
 * The conversation so far, from both channels: for `useChat({ messages })` on page load. A reply
 * in flight is included as far as it got; `useChat({ resume: true })` then replays it whole.
 */
export async function loadChat<M extends UIMessage = UIMessage>(options: LoadChatOptions): Promise<M[]> {
  return (await loadChatSnapshot<M>(options)).messages;
}

/** loadChat, with the session's status and the channels' tails (a page follows on from them). */
export async function loadChatSnapshot<M extends UIMessage = UIMessage>(options: LoadChatOptions): Promise<ChatSnapshot<M>> {
  const client = chatClient(options);
  try {
    return await snapshotWith<M>(client, options.chatId);
  } finally {
    await client.close();
  }
}

export async function snapshotWith<M extends UIMessage>(client: SessionsClient, chatId: string): Promise<ChatSnapshot<M>> {
  const { session } = await client.request(ChatSessionDocument, { id: chatId });
  if (!session) return { messages: [], sessionId: undefined, status: "ACTIVE", outTailSeqNum: 0, inTailSeqNum: 0, historyTrimmed: false };
  const conversation = new ChatConversation<M>(client, session.id, { in: session.in.headSeqNum, out: session.out.headSeqNum });
  await conversation.sync();
  return {
    messages: await conversation.messages(),
    sessionId: session.id,
    status: session.status,
    // Where the reads stopped: nothing between them and these is missed by a follower.
    outTailSeqNum: conversation.cursor.out,
    inTailSeqNum: conversation.cursor.in,
    historyTrimmed: session.in.headSeqNum > 0 || session.out.headSeqNum > 0,
  };
}
