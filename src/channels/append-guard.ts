import { Prisma, type PrismaClient } from "../generated/prisma/client.js";
import { appendLimits, limits } from "../limits.js";
import { isSessionId } from "../sessions/index.js";
import { siblingBytes, storageCaps, StorageFullError, type StorageCaps } from "./storage-caps.js";
import type { AppendAck, AppendOutcome, AppendRequest, ChannelKey, NewRecords } from "./stream-store.js";

/** Where a guarded store puts the records once the guard lets an append through, and reads a channel's tail. */
export interface RecordSink {
  /** Stores the records at the tail; throws SEQ_NUM_MISMATCH when matchSeqNum is not the tail. */
  put(channel: ChannelKey, records: NewRecords, matchSeqNum?: number): Promise<AppendAck>;
  tail(channel: ChannelKey): Promise<number>;
}

/**
 * What stands in front of a store whose records live outside the service's database (S2, memory):
 * it decides, for each append, what the local store decides inside its one statement (see the
 * StreamStore interface), and calls the sink only for an append that may go ahead.
 */
export interface AppendGuard {
  run(request: AppendRequest, sink: RecordSink): Promise<AppendOutcome>;
}

export interface DatabaseAppendGuardOptions {
  /** Caps on stored record bytes per session and per environment. Default: the limits table's defaults. */
  caps?: StorageCaps;
}

/**
 * The guard on the service's database. Each append runs in a transaction that holds the session
 * row FOR SHARE and the channel row FOR UPDATE: appends to a channel are serialized, and
 * closeSession (an UPDATE of the session row) waits for appends in flight, so once a close is
 * acknowledged no append can land after it, wherever the records are. Idempotency keys are read
 * under the channel lock (each statement of the transaction sees what committed before it), so
 * concurrent retries with one key store the records once.
 */
export class DatabaseAppendGuard implements AppendGuard {
  private readonly caps: StorageCaps;

  constructor(
    private prisma: PrismaClient,
    options: DatabaseAppendGuardOptions = {},
  ) {
    this.caps = options.caps ?? storageCaps(limits);
  }

  async run(request: AppendRequest, sink: RecordSink): Promise<AppendOutcome> {
    const { session, io, records, matchSeqNum, idempotencyKey: key } = request;
    const column = isSessionId(session.ref) ? Prisma.raw("id") : Prisma.raw("external_id");
    const outcome = await this.prisma.$transaction(
      async (tx): Promise<AppendOutcome> => {
        // Closed or expired: both decided under the lock a close waits for. The environment's
        // measured total comes with it, for the soft cap (read, never locked).
        const [row] = await tx.$queryRaw<{ id: string; open: boolean; env_bytes: bigint }[]>`
          SELECT id, closed_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AS open,
            COALESCE((SELECT stored_bytes FROM environment_usage WHERE environment_id = sessions.environment_id), 0)::bigint AS env_bytes
          FROM sessions WHERE environment_id = ${session.environmentId} AND ${column} = ${session.ref} FOR SHARE`;
        if (!row) return { status: "missing" };
        const sessionId = row.id;
        if (!row.open) return { status: "closed", sessionId };
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
            return { status: "appended", sessionId, ack: { firstSeqNum: first, lastSeqNum: last, tailSeqNum: last + 1 }, deduplicated: true };
          }
        }
        // After the idempotency check: a retry of an append that was stored is answered, full or not.
        const { perSession, perEnvironment } = this.caps;
        if (perEnvironment !== null && Number(row.env_bytes) + records.bytes > perEnvironment) {
          throw new StorageFullError("environment", sessionId, session.environmentId, perEnvironment, records.bytes);
        }
        if (perSession !== null && Number(held?.bytes ?? 0) + records.bytes > perSession) {
          throw new StorageFullError("session", sessionId, session.environmentId, perSession, records.bytes);
        }
        const ack = await sink.put({ sessionId, io }, records, matchSeqNum);
        // In the transaction: should the put or the commit fail, the count goes back too (on S2,
        // records stored before a commit that then fails stay uncounted: the count errs low).
        await tx.$executeRaw`UPDATE channels SET stored_bytes = stored_bytes + ${records.bytes} WHERE session_id = ${sessionId} AND io = ${io}`;
        if (key !== undefined) {
          const seqNums = { firstSeqNum: BigInt(ack.firstSeqNum), lastSeqNum: BigInt(ack.lastSeqNum), createdAt: new Date() };
          await tx.appendKey.upsert({ where: { sessionId_io_key: { sessionId, io, key } }, create: { sessionId, io, key, ...seqNums }, update: seqNums });
        }
        return { status: "appended", sessionId, ack, deduplicated: false };
      },
      { maxWait: 10_000, timeout: 30_000 },
    );
    // The tail a deduplicated append reports is today's, read after the transaction (PGlite has one
    // connection, so a read of a store on it inside the transaction would wait for the transaction).
    if (outcome.status === "appended" && outcome.deduplicated) {
      return { ...outcome, ack: { ...outcome.ack, tailSeqNum: await sink.tail({ sessionId: outcome.sessionId, io }) } };
    }
    return outcome;
  }
}

/**
 * The guard of a store on its own, without the service's database (the memory store in unit
 * tests): every session exists and takes writes, named by its id; there are no caps; idempotency
 * keys are kept in memory, for as long as the database keeps them.
 */
export class OpenSessionsGuard implements AppendGuard {
  /** Each key's first append, as a promise: set before the put runs, so a concurrent retry waits for it. */
  private keys = new Map<string, { ack: Promise<AppendAck>; at: number }>();

  async run(request: AppendRequest, sink: RecordSink): Promise<AppendOutcome> {
    const channel = { sessionId: request.session.ref, io: request.io };
    const sessionId = channel.sessionId;
    const key = request.idempotencyKey === undefined ? undefined : `${sessionId}/${channel.io}/${request.idempotencyKey}`;
    const earlier = key === undefined ? undefined : this.keys.get(key);
    if (earlier && Date.now() - earlier.at < appendLimits.idempotencyKeyTtlMs) {
      const ack = await earlier.ack.catch(() => undefined);
      if (ack) return { status: "appended", sessionId, ack: { ...ack, tailSeqNum: await sink.tail(channel) }, deduplicated: true };
      // The first append failed and stored nothing (its entry is gone): the first retry to get here goes ahead in its place.
      return this.run(request, sink);
    }
    const put = sink.put(channel, request.records, request.matchSeqNum);
    if (key !== undefined) {
      const entry = { ack: put, at: Date.now() };
      this.keys.set(key, entry);
      put.catch(() => this.keys.get(key) === entry && this.keys.delete(key));
    }
    return { status: "appended", sessionId, ack: await put, deduplicated: false };
  }
}
