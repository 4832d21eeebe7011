import type { PrismaClient } from "../generated/prisma/client.js";
import { ApiError, badInput, notFound, sessionClosed } from "../errors.js";
import type { SessionStore } from "../sessions/session-store.js";
import type { AppendAck, ChannelKey, NewRecords, SessionIO, SessionRef, StreamStore } from "./stream-store.js";

import { appendLimits } from "../limits.js";

export interface AppendOptions {
  matchSeqNum?: number | null;
  idempotencyKey?: string | null;
}

export interface AppendResult extends AppendAck {
  sessionId: string;
  deduplicated: boolean;
}

/**
 * Called after an append has committed, e.g. to wake followers and waitpoints; `data` are the
 * records as appended, in order.
 */
export type AppendListener = (channel: ChannelKey, ack: AppendAck, data: readonly unknown[]) => void;

const tooLarge = (message: string) => new ApiError("PAYLOAD_TOO_LARGE", message);

/** Checks an append against the limits and encodes each record once, for the limits and the store alike. */
export function encodeRecords(data: readonly unknown[]): NewRecords {
  if (data.length === 0) throw badInput("records must hold at least one record");
  if (data.length > appendLimits.recordsPerAppend) {
    throw tooLarge(`at most ${appendLimits.recordsPerAppend} records per append`);
  }
  const json = data.map((d) => JSON.stringify(d) ?? "null");
  let total = 0;
  for (const [i, text] of json.entries()) {
    const bytes = Buffer.byteLength(text);
    if (bytes > appendLimits.recordBytes) throw tooLarge(`record ${i} is ${bytes} bytes; a record is at most 1 MiB of JSON`);
    total += bytes;
  }
  if (total > appendLimits.appendBytes) throw tooLarge(`the append is ${total} bytes; an append is at most 1 MiB of JSON`);
  return { data, json };
}

/**
 * The one way records enter a channel. Each append runs in a database transaction that holds
 * the session row FOR SHARE and the channel row FOR UPDATE: appends to a channel are serialized,
 * and closeSession (an UPDATE of the session row) waits for appends in flight, so once a close
 * is acknowledged no append can land after it, whichever store holds the records.
 */
export class ChannelWriter {
  private listeners: AppendListener[] = [];

  constructor(
    private prisma: PrismaClient,
    private store: StreamStore,
    private sessions: SessionStore,
  ) {}

  onAppend(listener: AppendListener) {
    this.listeners.push(listener);
  }

  private notify(channel: ChannelKey, ack: AppendAck, data: readonly unknown[]) {
    for (const listener of this.listeners) listener(channel, ack, data);
  }

  /** Appends to a session named as the client named it; NOT_FOUND when there is none. */
  async append(target: SessionRef, io: SessionIO, data: unknown[], opts: AppendOptions = {}): Promise<AppendResult> {
    const records = encodeRecords(data);
    const key = opts.idempotencyKey ?? undefined;
    if (key !== undefined && (key.length === 0 || key.length > appendLimits.idempotencyKeyLength)) {
      throw badInput(`idempotencyKey must be 1 to ${appendLimits.idempotencyKeyLength} characters`);
    }
    const missing = () => notFound(`session ${JSON.stringify(target.ref)}`);
    if (key === undefined && this.store.appendGuarded) {
      const outcome = await this.store.appendGuarded(target, io, records, opts.matchSeqNum ?? undefined);
      if (outcome.status === "missing") throw missing();
      if (outcome.status === "closed") throw sessionClosed(outcome.sessionId);
      const channel = { sessionId: outcome.sessionId, io };
      this.notify(channel, outcome.ack, data);
      return { ...outcome.ack, sessionId: outcome.sessionId, deduplicated: false };
    }
    const session = await this.sessions.find(target.environmentId, target.ref);
    if (!session) throw missing();
    const sessionId = session.id;
    const channel = { sessionId, io };
    const outcome = await this.prisma.$transaction(
      async (tx): Promise<{ ack: AppendAck; deduplicated: boolean }> => {
        // Closed or expired: both decided under the lock a close waits for.
        const [row] = await tx.$queryRaw<{ open: boolean }[]>`
          SELECT closed_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AS open FROM sessions WHERE id = ${session.id} FOR SHARE`;
        if (!row?.open) throw sessionClosed(session.id);
        await tx.$executeRaw`INSERT INTO channels (session_id, io) VALUES (${sessionId}, ${io}) ON CONFLICT DO NOTHING`;
        await tx.$queryRaw`SELECT 1 FROM channels WHERE session_id = ${sessionId} AND io = ${io} FOR UPDATE`;
        if (key !== undefined) {
          const earlier = await tx.appendKey.findUnique({ where: { sessionId_io_key: { sessionId, io, key } } });
          if (earlier && Date.now() - earlier.createdAt.getTime() < appendLimits.idempotencyKeyTtlMs) {
            const [first, last] = [Number(earlier.firstSeqNum), Number(earlier.lastSeqNum)];
            return { ack: { firstSeqNum: first, lastSeqNum: last, tailSeqNum: last + 1 }, deduplicated: true };
          }
        }
        const ack = await this.store.append(tx, channel, records, opts.matchSeqNum ?? undefined);
        if (key !== undefined) {
          const seqNums = { firstSeqNum: BigInt(ack.firstSeqNum), lastSeqNum: BigInt(ack.lastSeqNum), createdAt: new Date() };
          await tx.appendKey.upsert({
            where: { sessionId_io_key: { sessionId, io, key } },
            create: { sessionId, io, key, ...seqNums },
            update: seqNums,
          });
        }
        return { ack, deduplicated: false };
      },
      { maxWait: 10_000, timeout: 30_000 },
    );
    // The tail a deduplicated append reports is today's, read outside the transaction (PGlite has
    // one connection, so a store read inside it would wait for the transaction itself).
    if (outcome.deduplicated) return { ...outcome.ack, tailSeqNum: await this.store.tail(channel), sessionId, deduplicated: true };
    this.notify(channel, outcome.ack, data);
    return { ...outcome.ack, sessionId, deduplicated: false };
  }
}
