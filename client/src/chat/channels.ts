import { ChatInRecordsDocument, ChatOutRecordsDocument, type SessionIo } from "../../generated/graphql.js";
import type { SessionsClient } from "../sessions-client.js";
import { isChatTurnStartRecord, turnOf } from "./records.js";

/** Records read per request: up to 100 chunk batches (each well under the 1 MiB record cap). */
const PAGE = 100;

export interface StoredRecord {
  seqNum: number;
  data: unknown;
}

/** One page of a channel's records from `fromSeqNum` (fewer than `limit` means the tail was reached). */
export async function readPage(client: SessionsClient, sessionId: string, io: SessionIo, fromSeqNum: number, limit = PAGE): Promise<StoredRecord[]> {
  if (io === "OUT") return (await client.request(ChatOutRecordsDocument, { id: sessionId, fromSeqNum, limit })).session?.out.records ?? [];
  return (await client.request(ChatInRecordsDocument, { id: sessionId, fromSeqNum, limit })).session?.in.records ?? [];
}

/** Every record of a channel from `fromSeqNum` to its tail as the pages are read. */
export async function* readChannel(client: SessionsClient, sessionId: string, io: SessionIo, fromSeqNum: number): AsyncGenerator<StoredRecord> {
  for (let next = fromSeqNum; ; ) {
    const page = await readPage(client, sessionId, io, next);
    yield* page;
    if (page.length < PAGE) return;
    next = page.at(-1)!.seqNum + 1;
  }
}

/**
 * Reads `out` backwards from its tail, a page at a time, and returns the first record (from the
 * end) that `found` accepts. A chat's `out` holds few records per turn (chunks are coalesced),
 * so this is one request in practice: the last record usually answers.
 */
async function findBackwards(client: SessionsClient, sessionId: string, tail: number, found: (r: StoredRecord) => boolean, pageSize: number) {
  for (let end = tail; end > 0; ) {
    const from = Math.max(0, end - pageSize);
    const page = await readPage(client, sessionId, "OUT", from, end - from);
    for (let i = page.length - 1; i >= 0; i--) if (found(page[i]!)) return page[i]!;
    end = from;
    // A channel trimmed below `from` ends the search (nothing older is readable).
    if (page.length === 0) return undefined;
    pageSize = PAGE;
  }
  return undefined;
}

/**
 * The last turn on `out` (its turn-start's seqNum, the `in` message it answers, whether it ended),
 * or undefined when `out` holds none. One read of the last record when it is a chat record.
 */
export async function lastTurn(client: SessionsClient, sessionId: string, outTail: number) {
  const record = await findBackwards(client, sessionId, outTail, (r) => turnOf(r) !== undefined, 1);
  return record && turnOf(record);
}

/**
 * Where the reply to in#inSeqNum starts on `out`: its turn-start's seqNum, or undefined when it
 * has not started by `outTail` (turns start in `in` order, so the search stops at an older one).
 */
export async function findTurnStart(client: SessionsClient, sessionId: string, inSeqNum: number, outTail: number) {
  const record = await findBackwards(client, sessionId, outTail, (r) => isChatTurnStartRecord(r.data) && r.data.inSeqNum <= inSeqNum, PAGE);
  return record && isChatTurnStartRecord(record.data) && record.data.inSeqNum === inSeqNum ? record.seqNum : undefined;
}
