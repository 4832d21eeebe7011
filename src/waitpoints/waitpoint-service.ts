import { randomToken } from "../auth/index.js";
import { channelKey, channelsOf, parseChannelKey, type AppendAck, type ChannelKey, type SessionIO, type StoredRecord, type StreamStore } from "../channels/index.js";
import { isUniqueViolation } from "../db/index.js";
import { sessionClosed, trimmedHead } from "../errors/index.js";
import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import type { ChannelFanout, Signals } from "../live/index.js";
import { topics, Watchers } from "../live/index.js";
import type { Session } from "../sessions/index.js";
import { newWaitpointId, sessionStatus } from "../sessions/index.js";
import type { PendingIndex } from "./pending-index.js";
import { waitpointChanges, type WaitpointChanges } from "./waitpoint-changes.js";

/** A waitpoint's row with its callback's (null when it was created without a callbackUrl). */
export type Waitpoint = Prisma.WaitpointGetPayload<{ include: { callback: true } }>;
export type WaitpointStatus = "PENDING" | "COMPLETED" | "TIMED_OUT";
const withCallback = { callback: true } as const;

export interface NewWaitpoint {
  io: SessionIO;
  afterSeqNum?: number;
  timeoutMs: number;
  idempotencyKey?: string;
  /**
   * Whose idempotency keys `idempotencyKey` is among: an agent's (secret key) and a page's (public
   * token) never meet, so a page cannot take the key an agent is about to use (and get its
   * waitpoint, callback and all, or make it wait on one without a callback).
   */
  keyOwner: "secret" | "token";
  tags: string[];
  /** Where to POST the completion or timeout, already checked by the callbacks' URL policy. */
  callbackUrl?: string;
}

/** The Standard Webhooks `webhook-id` of a waitpoint's callback: one event per waitpoint, the same on every retry. */
const newCallbackId = () => `msg_${randomToken(24)}`;

/**
 * A record's data as a waitpoint keeps it (jsonb). Records on S2 may carry the NUL character (the
 * local store refuses it), which jsonb cannot hold: a page's message with one left the agent's
 * waitpoint unable to complete, ever. The waitpoint's copy has U+FFFD in its place (the channel
 * keeps the record as written): every `\u0000` escape JSON.stringify wrote, not an escaped backslash
 * followed by "u0000".
 */
const storableJson = (data: unknown) => JSON.stringify(data).replace(/(?<=(?:^|[^\\])(?:\\\\)*)\\u0000/g, "\\ufffd");

/** Derived like a session's status: a deadline passes without any write. */
export function waitpointStatus(w: Pick<Waitpoint, "status" | "timeoutAt">, now = new Date()): WaitpointStatus {
  if (w.status === "PENDING" && w.timeoutAt.getTime() <= now.getTime()) return "TIMED_OUT";
  return w.status as WaitpointStatus;
}


/**
 * Waitpoints: "wake me when the next record lands on this channel". The row decides: every
 * completion and timeout is a conditional UPDATE of a PENDING row, so each waitpoint ends
 * exactly once however many appends, checks and sweepers race for it. The same statement makes
 * the waitpoint's callback (if it has one) due in `waitpoint_callbacks`, the outbox the callback
 * deliverer (src/callbacks) works through, so an ended waitpoint's callback is never lost.
 */
export class WaitpointService {
  private readonly watchers: Watchers;
  private sweeper: NodeJS.Timeout | undefined;
  private rebuilding: Promise<void> | undefined;

  /** Channels followed for records written straight to the store, by channel. */
  private watches = new Map<string, AsyncIterableIterator<StoredRecord>>();

  /**
   * `fanout` is for stores that clients may write to directly (S2): records can land there
   * without an append through this service, so channels with pending waitpoints are followed.
   */
  constructor(
    private prisma: PrismaClient,
    private store: StreamStore,
    private index: PendingIndex,
    private signals: Signals,
    private onError: (error: unknown) => void,
    private fanout?: ChannelFanout,
  ) {
    this.watchers = new Watchers(signals);
  }

  /** Fills the index from the database, then sweeps timeouts every `sweepMs`. */
  async start(sweepMs = 1_000) {
    await this.rebuild();
    this.sweeper = setInterval(() => void this.sweep().catch(this.onError), sweepMs);
    this.sweeper.unref();
  }

  find(environmentId: string, id: string): Promise<Waitpoint | null> {
    return this.prisma.waitpoint.findFirst({ where: { id, environmentId }, include: withCallback });
  }

  /** A waitpoint's changes, as `first` first finds it (the caller's check of what it may see): see waitpointChanges. */
  changes(id: string, first: () => Promise<Waitpoint | null>): Promise<WaitpointChanges | null> {
    return waitpointChanges(this.watchers, topics.waitpoint(id), first, (w) => this.find(w.environmentId, w.id));
  }

  /** Waitpoints watched by subscribers in this process (for tests that check nothing is left behind). */
  get watchCount(): number {
    return this.watchers.size;
  }

  async create(session: Session, input: NewWaitpoint): Promise<{ waitpoint: Waitpoint; isCached: boolean }> {
    if (sessionStatus(session) !== "ACTIVE") throw sessionClosed(session.id);
    const channel: ChannelKey = { sessionId: session.id, io: input.io };
    const where = { sessionId: session.id, io: input.io };
    // Stored with its owner's prefix (migration 20261229000000_waitpoint_key_owners): one column, one unique index.
    const idempotencyKey = input.idempotencyKey ? `${input.keyOwner}:${input.idempotencyKey}` : undefined;
    if (idempotencyKey) {
      const earlier = await this.prisma.waitpoint.findFirst({ where: { ...where, idempotencyKey }, include: withCallback });
      if (earlier) return { waitpoint: earlier, isCached: true };
    }
    const afterSeqNum = input.afterSeqNum ?? (await this.store.tail(channel));
    let waitpoint: Waitpoint;
    try {
      // The callback's row is made with the waitpoint (one transaction): not yet due.
      waitpoint = await this.prisma.waitpoint.create({
        data: {
          id: newWaitpointId(),
          environmentId: session.environmentId,
          ...where,
          afterSeqNum: BigInt(afterSeqNum),
          idempotencyKey: idempotencyKey ?? null,
          tags: input.tags,
          timeoutAt: new Date(Date.now() + input.timeoutMs),
          ...(input.callbackUrl && { callback: { create: { id: newCallbackId(), environmentId: session.environmentId, url: input.callbackUrl } } }),
        },
        include: withCallback,
      });
    } catch (error) {
      if (!idempotencyKey || !isUniqueViolation(error)) throw error;
      const winner = await this.prisma.waitpoint.findFirst({ where: { ...where, idempotencyKey }, include: withCallback });
      if (!winner) throw error;
      return { waitpoint: winner, isCached: true };
    }
    await this.index.add(channel, waitpoint.id, waitpoint.timeoutAt);
    // Records below the head were trimmed: the first record still stored at or after afterSeqNum is the head's.
    this.watch(channel, Math.max(afterSeqNum, await this.store.head(channel)));
    // The race check: a record may have landed before the index knew of this waitpoint.
    const record = await this.firstRecord(channel, afterSeqNum);
    if (!record) return { waitpoint, isCached: false };
    await this.complete([waitpoint.id], record);
    return { waitpoint: await this.prisma.waitpoint.findUniqueOrThrow({ where: { id: waitpoint.id }, include: withCallback }), isCached: false };
  }

  /** After an append commits: wake every waitpoint of the channel that the new records satisfy. */
  async onAppend(channel: ChannelKey, ack: AppendAck): Promise<void> {
    const drained = await this.index.drain(channel, new Date());
    if (drained !== "lost" && drained.length === 0) return;
    if (drained === "lost") void this.rebuild();
    const pending = await this.prisma.waitpoint.findMany({
      where: {
        sessionId: channel.sessionId,
        io: channel.io,
        status: "PENDING",
        timeoutAt: { gt: new Date() },
        ...(drained !== "lost" && { id: { in: drained } }),
      },
      select: { id: true, afterSeqNum: true, timeoutAt: true },
    });
    const byAfter = new Map<number, string[]>();
    for (const w of pending) {
      const after = Number(w.afterSeqNum);
      // Waiting for a later record: back into the index, then checked below like a new waitpoint,
      // since an append may have drained the index while this one was out of it.
      if (after >= ack.tailSeqNum) await this.index.add(channel, w.id, w.timeoutAt);
      byAfter.set(after, [...(byAfter.get(after) ?? []), w.id]);
    }
    // SeqNums are dense, so the first record at or after `after` is the one at `after`.
    for (const [after, ids] of byAfter) {
      const record = await this.firstRecord(channel, after);
      if (record) await this.complete(ids, record);
    }
  }

  /**
   * The first record stored at or after `seqNum`: from the head when records from `seqNum` on were
   * trimmed (a waitpoint created with an afterSeqNum below the head), rather than a RECORDS_TRIMMED
   * that would leave the channel's other waitpoints unwoken.
   */
  private async firstRecord(channel: ChannelKey, seqNum: number): Promise<StoredRecord | undefined> {
    try {
      return (await this.store.read(channel, seqNum, 1))[0];
    } catch (error) {
      const head = trimmedHead(error);
      if (head === undefined) throw error;
      return (await this.store.read(channel, head, 1))[0];
    }
  }

  private async complete(ids: string[], record: StoredRecord) {
    const data = storableJson(record.data);
    // One statement, so one transaction: the waitpoint ends and its callback becomes due together.
    const done = await this.prisma.$queryRaw<{ id: string }[]>`
      WITH done AS (
        UPDATE waitpoints
        SET status = 'COMPLETED', completed_at = now(), record_seq_num = ${BigInt(record.seqNum)},
            record_timestamp = ${record.timestamp}, record_data = ${data}::jsonb
        WHERE id = ANY(${ids}) AND status = 'PENDING' AND timeout_at > now()
        RETURNING id
      ), due AS (
        UPDATE waitpoint_callbacks SET event_type = 'waitpoint.completed', event_at = now(), next_attempt_at = now()
        WHERE waitpoint_id IN (SELECT id FROM done)
      )
      SELECT id FROM done`;
    for (const { id } of done) this.signals.publish({ kind: "waitpoint", waitpointId: id });
  }

  /** Times out every waitpoint past its deadline, whether or not anything was appended. */
  async sweep() {
    const timedOut = await this.prisma.$queryRaw<{ id: string }[]>`
      WITH done AS (
        UPDATE waitpoints SET status = 'TIMED_OUT' WHERE status = 'PENDING' AND timeout_at <= now() RETURNING id, timeout_at
      ), due AS (
        -- The event is the deadline passing, whenever the sweep noticed it.
        UPDATE waitpoint_callbacks c SET event_type = 'waitpoint.timed_out', event_at = done.timeout_at, next_attempt_at = now()
        FROM done WHERE c.waitpoint_id = done.id
      )
      SELECT id FROM done`;
    for (const { id } of timedOut) this.signals.publish({ kind: "waitpoint", waitpointId: id });
    for (const [id, records] of this.watches) {
      if (!(await this.hasPending(parseChannelKey(id)))) void records.return?.();
    }
  }

  private hasPending({ sessionId, io }: ChannelKey) {
    return this.prisma.waitpoint
      .count({ where: { sessionId, io, status: "PENDING", timeoutAt: { gt: new Date() } }, take: 1 })
      .then((n) => n > 0);
  }

  /**
   * Follows a channel of a store with direct writes while it has pending waitpoints, and handles
   * each record like an append made here. One watch per channel and process; completions are
   * conditional updates, so two processes watching the same channel complete each waitpoint once.
   */
  private watch(channel: ChannelKey, fromSeqNum: number) {
    const id = channelKey(channel);
    if (!this.fanout || this.watches.has(id)) return;
    const closed = async () => (await this.prisma.session.findUnique({ where: { id: channel.sessionId } }))?.closedAt != null;
    const records = this.fanout.subscribe(channel, fromSeqNum, closed);
    this.watches.set(id, records);
    void (async () => {
      try {
        for await (const record of records) {
          await this.onAppend(channel, { firstSeqNum: record.seqNum, lastSeqNum: record.seqNum, tailSeqNum: record.seqNum + 1 });
          if (!(await this.hasPending(channel))) break;
        }
      } catch (error) {
        this.onError(error);
      } finally {
        this.watches.delete(id);
        void records.return?.();
      }
    })();
  }

  private rebuild(): Promise<void> {
    this.rebuilding ??= (async () => {
      try {
        const pending = await this.prisma.waitpoint.findMany({
          where: { status: "PENDING", timeoutAt: { gt: new Date() } },
          select: { id: true, sessionId: true, io: true, timeoutAt: true, afterSeqNum: true },
          orderBy: { afterSeqNum: "asc" },
        });
        for (const w of pending) {
          const channel = { sessionId: w.sessionId, io: w.io as SessionIO };
          await this.index.add(channel, w.id, w.timeoutAt);
          this.watch(channel, Number(w.afterSeqNum));
        }
        await this.index.markRebuilt();
      } catch (error) {
        this.onError(error);
      } finally {
        this.rebuilding = undefined;
      }
    })();
    return this.rebuilding;
  }

  /**
   * A deleted session (src/lifecycle): its waitpoint rows went with it; its channels' pending-index
   * entries and watches go here, so nothing keeps waiting on channels that no longer exist.
   */
  async sessionDeleted(sessionId: string) {
    for (const channel of channelsOf(sessionId)) {
      await this.index.drain(channel, new Date());
      void this.watches.get(channelKey(channel))?.return?.();
    }
  }

  async close() {
    clearInterval(this.sweeper);
    for (const records of this.watches.values()) void records.return?.();
    this.watchers.close();
    await this.index.close();
  }
}
