import type { UIMessageChunk } from "ai";
import { SessionsError, type SessionsClient } from "../sessions-client.js";
import { isChatChunksRecord, isChatTurnEndRecord, isChatTurnStartRecord } from "./records.js";

export interface TurnStreamOptions {
  client: SessionsClient;
  sessionId: string;
  /** Where to start following `out`: at or before the turn-start. */
  fromSeqNum: number;
  /** The `in` message whose reply this is. */
  inSeqNum: number;
  /** The turn (its turn-start's seqNum) when known; else the first turn-start for inSeqNum. */
  turn?: number;
  /** Aborting it stops the reply: `stop` is called (once, and only while the turn runs). */
  abortSignal?: AbortSignal;
  stop: () => Promise<void>;
}

/** What a reply stream fails with when its session is closed before the turn ended. */
export const sessionClosed = () => new SessionsError("This conversation is closed.", "SESSION_CLOSED");

/**
 * One turn's reply as a stream of UIMessageChunks, read from `out` from its turn-start (so from
 * the first chunk, whenever it is opened) to its turn-end. Cancelling the stream (a reader going
 * away, a page reloading) only stops following; aborting `abortSignal` (useChat's stop()) also
 * stops the agent's reply.
 */
export function turnStream(o: TurnStreamOptions): ReadableStream<UIMessageChunk> {
  const following = new AbortController();
  let turn = o.turn;
  let over = false;
  let controller!: ReadableStreamDefaultController<UIMessageChunk>;
  const finish = (how: () => void) => {
    if (over) return;
    over = true;
    o.abortSignal?.removeEventListener("abort", onAbort);
    following.abort();
    try {
      how();
    } catch {
      // Already cancelled by its reader.
    }
  };
  const onAbort = () => {
    // The stop record goes out even though this stream is done with: the agent reads it.
    o.stop().catch(() => {});
    finish(() => controller.close());
  };

  const follow = async () => {
    for await (const { seqNum, data } of o.client.follow(o.sessionId, "OUT", { fromSeqNum: o.fromSeqNum, signal: following.signal })) {
      if (turn === undefined && isChatTurnStartRecord(data) && data.inSeqNum === o.inSeqNum) turn = seqNum;
      if (turn === undefined) continue;
      if (isChatChunksRecord(data) && data.turn === turn) for (const chunk of data.chunks) controller.enqueue(chunk);
      else if (isChatTurnEndRecord(data) && data.turn === turn) return finish(() => controller.close());
    }
    // The subscription completes once the session is closed and everything was delivered.
    finish(() => controller.error(sessionClosed()));
  };

  return new ReadableStream<UIMessageChunk>({
    start(c) {
      controller = c;
      if (o.abortSignal?.aborted) return onAbort();
      o.abortSignal?.addEventListener("abort", onAbort, { once: true });
      follow().catch((error: unknown) => finish(() => controller.error(error)));
    },
    cancel() {
      finish(() => {});
    },
  });
}
