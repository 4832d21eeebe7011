import type { PrismaClient, Waitpoint } from "../../generated/prisma/client.js";
import { isUniqueViolation } from "../../db/errors.js";
import { sessionClosed } from "../../errors.js";
import { newWaitpointId } from "../../sessions/ids.js";
import type { Session } from "../../sessions/session-store.js";
import type { Signals } from "../signals.js";
import type { AppendAck, ChannelKey, SessionIO, StoredRecord, StreamStore } from "../stream-store.js";
import { Watchers } from "../watchers.js";
import type { PendingIndex } from "./pending-index.js";

export type { Waitpoint };
export type WaitpointStatus = "PENDING" | "COMPLETED" | "TIMED_OUT";

export interface NewWaitpoint {
  io: SessionIO;
  afterSeqNum?: number;
  timeoutMs: number;
  idempotencyKey?: string;
  tags: string[];
}

/** Derived like a session's status: a deadline passes without any write. */
export function waitpointStatus(w: Pick<Waitpoint, "status" | "timeoutAt">, now = new Date()): WaitpointStatus {
  if (w.status === "PENDING" && w.timeoutAt.getTime() <= now.getTime()) return "TIMED_OUT";
  return w.status as WaitpointStatus;
}


/**
 * Waitpoints: "wake me when the next record lands on this channel". The row decides: every
 * completion and timeout is a conditional UPDATE of a PENDING row, so each waitpoint ends
 * exactly once however many appends, checks and sweepers race for it.
 */
export class WaitpointService {
  readonly watchers: Watchers;
  private sweeper: NodeJS.Timeout | undefined;
  private rebuilding: Promise<void> | undefined;

  constructor(
    private prisma: PrismaClient,
    private store: StreamStore,
    private index: PendingIndex,
    private signals: Signals,
    private onError: (error: unknown) => void,
  ) {
    this.watchers = new Watchers(signals, (s) => (s.kind === "waitpoint" ? s.waitpointId : undefined));
  }

  /** Fills the index from the database, then sweeps timeouts every `sweepMs`. */
  async start(sweepMs = 1_000) {
    await this.rebuild();
    this.sweeper = setInterval(() => void this.sweep().catch(this.onError), sweepMs);
    this.sweeper.unref();
  }

  find(environmentId: string, id: string) {
    return this.prisma.waitpoint.findFirst({ where: { id, environmentId } });
  }

  async create(session: Session, input: NewWaitpoint): Promise<{ waitpoint: Waitpoint; isCached: boolean }> {
    if (session.closedAt) throw sessionClosed(session.id);
    const channel: ChannelKey = { sessionId: session.id, io: input.io };
    const where = { sessionId: session.id, io: input.io };
    if (input.idempotencyKey) {
      const earlier = await this.prisma.waitpoint.findFirst({ where: { ...where, idempotencyKey: input.idempotencyKey } });
      if (earlier) return { waitpoint: earlier, isCached: true };
    }
    const afterSeqNum = input.afterSeqNum ?? (await this.store.tail(channel));
    let waitpoint: Waitpoint;
    try {
      waitpoint = await this.prisma.waitpoint.create({
        data: {
          id: newWaitpointId(),
          environmentId: session.environmentId,
          ...where,
          afterSeqNum: BigInt(afterSeqNum),
          idempotencyKey: input.idempotencyKey ?? null,
          tags: input.tags,
          timeoutAt: new Date(Date.now() + input.timeoutMs),
        },
      });
    } catch (error) {
      if (!input.idempotencyKey || !isUniqueViolation(error)) throw error;
      const winner = await this.prisma.waitpoint.findFirst({ where: { ...where, idempotencyKey: input.idempotencyKey } });
      if (!winner) throw error;
      return { waitpoint: winner, isCached: true };
    }
    await this.index.add(channel, waitpoint.id, waitpoint.timeoutAt);
    // The race check: a record may have landed before the index knew of this waitpoint.
    const [record] = await this.store.read(channel, afterSeqNum, 1);
    if (!record) return { waitpoint, isCached: false };
    await this.complete([waitpoint.id], record);
    return { waitpoint: await this.prisma.waitpoint.findUniqueOrThrow({ where: { id: waitpoint.id } }), isCached: false };
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
      const [record] = await this.store.read(channel, after, 1);
      if (record) await this.complete(ids, record);
    }
  }

  private async complete(ids: string[], record: StoredRecord) {
    const data = JSON.stringify(record.data);
    const done = await this.prisma.$queryRaw<{ id: string }[]>`
      UPDATE waitpoints
      SET status = 'COMPLETED', completed_at = now(), record_seq_num = ${BigInt(record.seqNum)},
          record_timestamp = ${record.timestamp}, record_data = ${data}::jsonb
      WHERE id = ANY(${ids}) AND status = 'PENDING' AND timeout_at > now()
      RETURNING id`;
    for (const { id } of done) this.signals.publish({ kind: "waitpoint", waitpointId: id });
  }

  /** Times out every waitpoint past its deadline, whether or not anything was appended. */
  async sweep() {
    const timedOut = await this.prisma.$queryRaw<{ id: string }[]>`
      UPDATE waitpoints SET status = 'TIMED_OUT' WHERE status = 'PENDING' AND timeout_at <= now() RETURNING id`;
    for (const { id } of timedOut) this.signals.publish({ kind: "waitpoint", waitpointId: id });
  }

  private rebuild(): Promise<void> {
    this.rebuilding ??= (async () => {
      try {
        const pending = await this.prisma.waitpoint.findMany({
          where: { status: "PENDING", timeoutAt: { gt: new Date() } },
          select: { id: true, sessionId: true, io: true, timeoutAt: true },
        });
        for (const w of pending) await this.index.add({ sessionId: w.sessionId, io: w.io as SessionIO }, w.id, w.timeoutAt);
        await this.index.markRebuilt();
      } catch (error) {
        this.onError(error);
      } finally {
        this.rebuilding = undefined;
      }
    })();
    return this.rebuilding;
  }

  async close() {
    clearInterval(this.sweeper);
    this.watchers.close();
    await this.index.close();
  }
}
