import { Prisma, type PrismaClient } from "../generated/prisma/client.js";
import { ApiError, badInput, notFound, sessionClosed } from "../errors/index.js";
import type { SessionStore } from "../sessions/index.js";
import type { AppendAck, ChannelKey, SessionIO, SessionName, StreamStore } from "./stream-store.js";
import { siblingBytes, StorageFullError, storageCaps, type CountedRecords, type StorageCaps } from "./storage-caps.js";
import type { Refusals } from "../refusals.js";

import { appendLimits, limits } from "../limits.js";

export interface AppendOptions {
  matchSeqNum?: number | null;
  idempotencyKey?: string | null;
}

export interface ChannelWriterOptions {
  /** Caps on stored record bytes per session and per environment. Default: the limits table's defaults. */
  caps?: StorageCaps;
  /** Where a refusal by a storage cap is recorded (metric, throttled warn line). Default: not recorded. */
  refusals?: Pick<Refusals, "record">;
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
export function encodeRecords(data: readonly unknown[]): CountedRecords {
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
  // The total is kept: it is what the storage caps count.
  return { data, json, bytes: total };
}

/**
 * The one way records enter a channel. Each append runs in a database transaction that holds
 * the session row FOR SHARE and the channel row FOR UPDATE: appends to a channel are serialized,
 * and closeSession (an UPDATE of the session row) waits for appends in flight, so once a close
 * is acknowledged no append can land after it, whichever store holds the records.
 */
export class ChannelWriter {
  private listeners: AppendListener[] = [];
  private readonly caps: StorageCaps;

  constructor(
    private prisma: PrismaClient,
    private store: StreamStore,
    private sessions: SessionStore,
    private options: ChannelWriterOptions = {},
  ) {
    this.caps = options.caps ?? storageCaps(limits);
  }

  onAppend(listener: AppendListener) {
    this.listeners.push(listener);
  }

  private notify(channel: ChannelKey, ack: AppendAck, data: readonly unknown[]) {
    for (const listener of this.listeners) listener(channel, ack, data);
  }

  /** Appends to a session named as the client named it; NOT_FOUND when there is none. */
  async append(target: SessionName, io: SessionIO, data: unknown[], opts: AppendOptions = {}): Promise<AppendResult> {
    try {
      return await this.appendChecked(target, io, data, opts);
    } catch (error) {
      if (error instanceof StorageFullError) {
        const client = error.scope === "session" ? `session:${error.sessionId}` : `environment:${error.environmentId}`;
        this.options.refusals?.record(`${error.scope}_storage`, client, error.message);
      }
      throw error;
    }
  }

  private async appendChecked(target: SessionName, io: SessionIO, data: unknown[], opts: AppendOptions): Promise<AppendResult> {
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
        // Closed or expired: both decided under the lock a close waits for. The environment's
        // measured total comes with it, for the soft cap (read, never locked).
        const [row] = await tx.$queryRaw<{ open: boolean; env_bytes: bigint }[]>`
          SELECT closed_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AS open,
            COALESCE((SELECT stored_bytes FROM environment_usage WHERE environment_id = sessions.environment_id), 0)::bigint AS env_bytes
          FROM sessions WHERE id = ${session.id} FOR SHARE`;
        if (!row?.open) throw sessionClosed(session.id);
        await tx.$executeRaw`INSERT INTO channels (session_id, io) VALUES (${sessionId}, ${io}) ON CONFLICT DO NOTHING`;
        // The lock also reads what the session holds: this channel's figure is exact under it.
        const [held] = await tx.$queryRaw<{ bytes: bigint }[]>(
          Prisma.sql`SELECT (c.stored_bytes + ${Prisma.raw(siblingBytes("c.session_id", "c.io"))})::bigint AS bytes FROM channels c
            WHERE c.session_id = ${sessionId} AND c.io = ${io} FOR UPDATE`,
        );
        if (key !== undefined) {
          const earlier = await tx.appendKey.findUnique({ where: { sessionId_io_key: { sessionId, io, key } } });
          if (earlier && Date.now() - earlier.createdAt.getTime() < appendLimits.idempotencyKeyTtlMs) {
            const [first, last] = [Number(earlier.firstSeqNum), Number(earlier.lastSeqNum)];
            return { ack: { firstSeqNum: first, lastSeqNum: last, tailSeqNum: last + 1 }, deduplicated: true };
          }
        }
        // After the idempotency check: a retry of an append that was stored is answered, full or not.
        const { perSession, perEnvironment } = this.caps;
        if (perEnvironment !== null && Number(row.env_bytes) + records.bytes > perEnvironment) {
          throw new StorageFullError("environment", sessionId, target.environmentId, perEnvironment, records.bytes);
        }
        if (perSession !== null && Number(held?.bytes ?? 0) + records.bytes > perSession) {
          throw new StorageFullError("session", sessionId, target.environmentId, perSession, records.bytes);
        }
        const ack = await this.store.append(tx, channel, records, opts.matchSeqNum ?? undefined);
        // In the transaction: should the store's append or the commit fail, the count goes back too
        // (on S2, records stored before a commit that then fails stay uncounted: the count errs low).
        await tx.$executeRaw`UPDATE channels SET stored_bytes = stored_bytes + ${records.bytes} WHERE session_id = ${sessionId} AND io = ${io}`;
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
