import type { UIMessage, UIMessageChunk } from "ai";

/*
 * The records a chat writes to its session's two channels. A chat is a session (type "chat" by
 * default) named by its externalId, the chat id.
 *
 *   in  (clients → agent)   chat.message   a user message, appended with idempotencyKey = its id
 *                           chat.stop      "stop the reply to the message at in#inSeqNum"
 *   out (agent → clients)   chat.turn-start  the agent took the message at in#inSeqNum; its seqNum
 *                                            names the turn, and a reply is replayed from there
 *                           chat.chunks      UIMessageChunks of that turn's reply, in order, coalesced
 *                           chat.turn-end    the turn is over: finished, stopped, error or interrupted
 *
 * Every `out` record of a turn carries the turn (the turn-start's seqNum) and the `in` seqNum it
 * answers, so the last record of `out` alone says whether a reply is in flight and where it starts.
 */

export const CHAT_MESSAGE = "chat.message";
export const CHAT_STOP = "chat.stop";
export const CHAT_TURN_START = "chat.turn-start";
export const CHAT_CHUNKS = "chat.chunks";
export const CHAT_TURN_END = "chat.turn-end";

/** On `in`: a user message, whole (the AI SDK's UIMessage, role "user"). */
export interface ChatMessageRecord<M extends UIMessage = UIMessage> {
  type: typeof CHAT_MESSAGE;
  message: M;
}

/** On `in`: stop the reply to the message at `inSeqNum` (what useChat().stop() sends). */
export interface ChatStopRecord {
  type: typeof CHAT_STOP;
  inSeqNum: number;
}

/** On `out`: the agent took the message at in#inSeqNum. This record's own seqNum is the turn. */
export interface ChatTurnStartRecord {
  type: typeof CHAT_TURN_START;
  inSeqNum: number;
  /** The user message's id. */
  messageId: string;
  /** The reply's (assistant message's) id; the reply's `start` chunk carries it too. */
  replyId: string;
}

/** On `out`: the next chunks of a turn's reply, in order. Consecutive deltas are merged. */
export interface ChatChunksRecord {
  type: typeof CHAT_CHUNKS;
  turn: number;
  inSeqNum: number;
  chunks: UIMessageChunk[];
}

/**
 * How a turn ended: the reply is complete ("finished"), a stop record ended it ("stopped"),
 * `respond` failed ("error", with an `error` chunk before), or its agent went away mid-reply and
 * the next agent closed it ("interrupted").
 */
export type ChatTurnEndReason = "finished" | "stopped" | "error" | "interrupted";

/** On `out`: the turn is over; a reply stream ends here. */
export interface ChatTurnEndRecord {
  type: typeof CHAT_TURN_END;
  turn: number;
  inSeqNum: number;
  reason: ChatTurnEndReason;
}

export type ChatInRecord = ChatMessageRecord | ChatStopRecord;
export type ChatOutRecord = ChatTurnStartRecord | ChatChunksRecord | ChatTurnEndRecord;
export type ChatRecord = ChatInRecord | ChatOutRecord;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isSeqNum = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/*
 * Guards check the envelope, not the AI SDK payloads inside (the agent validates user messages
 * with the AI SDK's own validateUIMessages; chunks are handed to the SDK, which checks them).
 * A channel may hold other records too: they are not chat records and are skipped.
 */

/**
 * A user message only: `in` is written by clients (pages holding a public token), so a message there
 * claiming the system or assistant role (a forged instruction, a tool call "the user approved") is
 * not a chat record at all, for the agent and the pages alike.
 */
export function isChatMessageRecord(data: unknown): data is ChatMessageRecord {
  return (
    isObject(data) &&
    data.type === CHAT_MESSAGE &&
    isObject(data.message) &&
    data.message.role === "user" &&
    typeof data.message.id === "string" &&
    Array.isArray(data.message.parts)
  );
}

export function isChatStopRecord(data: unknown): data is ChatStopRecord {
  return isObject(data) && data.type === CHAT_STOP && isSeqNum(data.inSeqNum);
}

export function isChatTurnStartRecord(data: unknown): data is ChatTurnStartRecord {
  return isObject(data) && data.type === CHAT_TURN_START && isSeqNum(data.inSeqNum) && typeof data.messageId === "string" && typeof data.replyId === "string";
}

export function isChatChunksRecord(data: unknown): data is ChatChunksRecord {
  return isObject(data) && data.type === CHAT_CHUNKS && isSeqNum(data.turn) && isSeqNum(data.inSeqNum) && Array.isArray(data.chunks) && data.chunks.every((c) => isObject(c) && typeof c.type === "string");
}

export function isChatTurnEndRecord(data: unknown): data is ChatTurnEndRecord {
  return isObject(data) && data.type === CHAT_TURN_END && isSeqNum(data.turn) && isSeqNum(data.inSeqNum) && typeof data.reason === "string";
}

/** The turn an `out` record belongs to (a turn-start is its own), or undefined for anything else. */
export function turnOf(record: { seqNum: number; data: unknown }): { turn: number; inSeqNum: number; ended: boolean } | undefined {
  const { data } = record;
  if (isChatTurnStartRecord(data)) return { turn: record.seqNum, inSeqNum: data.inSeqNum, ended: false };
  if (isChatChunksRecord(data)) return { turn: data.turn, inSeqNum: data.inSeqNum, ended: false };
  if (isChatTurnEndRecord(data)) return { turn: data.turn, inSeqNum: data.inSeqNum, ended: true };
  return undefined;
}

/** The text a user message or a reply's chunks carry, for logs and the dashboard. */
export function textOf(message: Pick<UIMessage, "parts">): string {
  return message.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
}

/**
 * One line for a record, for people: the dashboard shows chat sessions' channels with it.
 * Undefined when the record is not a chat record.
 */
export function describeChatRecord(data: unknown): string | undefined {
  if (isChatMessageRecord(data)) return `${data.message.role}: ${textOf(data.message)}`;
  if (isChatStopRecord(data)) return `stop the reply to in#${data.inSeqNum}`;
  if (isChatTurnStartRecord(data)) return `reply to in#${data.inSeqNum} starts`;
  if (isChatTurnEndRecord(data)) return `reply to in#${data.inSeqNum} ${data.reason}`;
  if (isChatChunksRecord(data)) return describeChunks(data.chunks);
  return undefined;
}

/** A chunk batch in words: its text, tool calls and errors ("[tool weather]"); the rest is structure. */
export function describeChunks(chunks: UIMessageChunk[]): string {
  let line = "";
  for (const c of chunks) {
    if (c.type === "text-delta") line += c.delta;
    else if (c.type === "reasoning-delta") line += `(${c.delta})`;
    else if (c.type === "error") line += ` [error: ${c.errorText}]`;
    else if (c.type === "tool-input-available") line += ` [tool ${c.toolName}]`;
    else if (c.type === "abort") line += " [aborted]";
  }
  return line;
}
