import { channelKey, type AppendAck, type ChannelKey, type Follow, type StoredRecord, type StreamStore } from "../channels/index.js";
import { ApiError, trimmedHead } from "../errors/index.js";
import { limits } from "../limits.js";
import { AsyncQueue } from "./async-queue.js";
import { RECORD_ENVELOPE_BYTES, recordBytes } from "./record-encoding.js";
import { topics, type Listening, type Signals } from "./signals.js";

export interface FanoutOptions {
  /** Records a subscriber may have waiting before it is cut off as too slow. */
  subscriberBuffer: number;
  /** Records read from the store at a time, for replay and for following (see replayBatchBytes too). */
  readBatch: number;
  /**
   * Bytes of records (their shared JSON, see recordBytes) a subscriber may have waiting before it
   * is cut off as too slow. Default: limits.subscriberBufferBytes (16 MiB).
   */
  subscriberBufferBytes?: number;
  /**
   * Bytes of records one read from the store may return (the store's byte cap: as many records
   * as fit, at least one), alongside the readBatch count. Default: limits.replayBatchBytes (16 MiB).
   */
  replayBatchBytes?: number;
  /**
   * The store's own live read, for stores that clients may write to directly (S2): each follower
   * also follows it, so records that never passed through this service reach subscribers.
   * Default: none; followers are woken by this process's appends and by append signals.
   */
  follow?: Follow;
  /**
   * Whether a session is closed, read afresh. After other processes' signals may have been missed
   * (a `missed` signal: this process's Redis connection was lost and is back), each follower whose
   * session was closed meanwhile ends its subscribers, as the close's signal would have. Default:
   * not asked (such a close is then seen by nothing until the subscribers reconnect).
   */
  sessionClosed?: (sessionId: string) => Promise<boolean>;
}

interface Subscriber {
  next: number;
  /** False while the subscriber catches up from the store on its own. */
  live: boolean;
  queue: AsyncQueue<StoredRecord>;
}


/** Subscribers handed a record per turn of the event loop (see Follower.handOver). */
const HANDOVER_SLICE = 16;

/**
 * One follower per channel per process: it reads each new record from the store once and hands
 * it to every subscriber of the channel. Wake-ups come from appends (local or via Signals); the
 * store stays the source of every record.
 */
class Follower {
  readonly subscribers = new Set<Subscriber>();
  /** The next seqNum this follower will deliver. */
  position: number;
  closed = false;
  private wanted: number;
  private pumping: Promise<void> | undefined;
  private stopFollowing = new AbortController();
  /** Records handed over but not yet pushed to all their subscribers, oldest first. */
  private handovers: { records: StoredRecord[]; subscribers: Subscriber[]; done: number }[] = [];
  private handing: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    private store: StreamStore,
    readonly channel: ChannelKey,
    tail: number,
    private batch: number,
    private batchBytes: number,
    private onError: (error: unknown) => void,
    follow: Follow | undefined,
    /** The signal topics this follower hears while it lives (its channel's appends, its session's close). */
    private listening: Listening[],
  ) {
    this.position = this.wanted = tail;
    if (follow) void this.follow(follow);
  }

  /**
   * An append committed in this process. When its records are the next ones due and the store
   * said how it stamped them, they go to subscribers as they are, without a read back: the
   * lowest latency path. Anything else (a gap, a read in flight) falls back to reading the range.
   */
  onAppended(ack: AppendAck, data: readonly unknown[]) {
    const { firstSeqNum, timestamp } = ack;
    if (timestamp && firstSeqNum === this.position && !this.pumping && !this.closed) {
      this.accept(data.map((d, i) => ({ seqNum: firstSeqNum + i, timestamp, data: d })));
    } else this.onTail(ack.tailSeqNum);
  }

  onTail(tail: number) {
    if (tail <= this.wanted) return;
    this.wanted = tail;
    void this.pump();
  }

  /** The session closed: deliver what the store holds, then end every subscriber. */
  async close() {
    this.closed = true;
    this.stop();
    try {
      this.wanted = Math.max(this.wanted, await this.store.tail(this.channel));
      await this.pump();
    } catch (error) {
      this.onError(error);
    }
    await this.handing?.promise;
    for (const sub of this.subscribers) if (sub.live) sub.queue.end();
  }

  stop() {
    this.stopFollowing.abort();
    for (const topic of this.listening) topic.release();
  }

  /** Hands contiguous records, starting at or before `position`, to the live subscribers. */
  private accept(records: StoredRecord[]) {
    const live = [...this.subscribers].filter((sub) => sub.live);
    this.position = Math.max(this.position, records.at(-1)!.seqNum + 1);
    this.wanted = Math.max(this.wanted, this.position);
    if (live.length === 0) return;
    this.handovers.push({ records, subscribers: live, done: 0 });
    if (!this.handing) {
      let resolve!: () => void;
      this.handing = { promise: new Promise<void>((r) => (resolve = r)), resolve };
      this.handOver();
    }
  }

  /**
   * Pushes records to subscribers a slice at a time, yielding to the event loop in between. Each
   * push runs a subscriber's whole path to its socket in the microtasks that follow, so the first
   * slice is on the wire before the next starts: with a thousand subscribers, half have the record
   * in half the time, instead of every socket waiting for the last subscriber's GraphQL work.
   * A subscriber that turns live meanwhile read these records from the store itself.
   */
  private handOver() {
    let budget = HANDOVER_SLICE;
    while (this.handovers.length > 0) {
      const job = this.handovers[0]!;
      while (job.done < job.subscribers.length && budget > 0) {
        deliver(job.subscribers[job.done++]!, job.records);
        budget--;
      }
      if (job.done === job.subscribers.length) this.handovers.shift();
      if (budget === 0 && this.handovers.length > 0) {
        setImmediate(() => this.handOver());
        return;
      }
    }
    this.handing?.resolve();
    this.handing = undefined;
  }

  private pump(): Promise<void> {
    this.pumping ??= (async () => {
      try {
        while (this.position < this.wanted) {
          let records: StoredRecord[];
          try {
            records = await this.store.read(this.channel, this.position, this.batch, this.batchBytes);
          } catch (error) {
            const head = trimmedHead(error);
            if (head === undefined) throw error;
            this.trimmedPast(head, error as ApiError);
            continue;
          }
          if (records.length === 0) break;
          this.accept(records);
        }
      } catch (error) {
        this.onError(error);
        for (const sub of this.subscribers) sub.queue.fail(new ApiError("INTERNAL_SERVER_ERROR", "channel follower failed"));
      } finally {
        this.pumping = undefined;
      }
    })();
    return this.pumping;
  }

  /**
   * A trim passed records this follower had not handed over yet. The subscribers still waiting
   * for them are told so (RECORDS_TRIMMED with the head), never left to skip them silently; the
   * follower goes on from the head, and subscribers already past it notice nothing.
   */
  private trimmedPast(head: number, error: ApiError) {
    for (const sub of this.subscribers) if (sub.live && sub.next < head) sub.queue.fail(error);
    this.position = Math.max(this.position, head);
    this.wanted = Math.max(this.wanted, this.position);
  }

  /**
   * Follows the store's own live read, for writes that bypass this service. A record that lands
   * exactly at the position is delivered at once; anything else only moves the target, and the
   * pump reads the range, so the two paths never leave a gap.
   */
  private async follow(follow: Follow) {
    const signal = this.stopFollowing.signal;
    while (!signal.aborted) {
      try {
        for await (const record of follow(this.channel, this.position, signal)) {
          if (record.seqNum === this.position && !this.pumping) this.accept([record]);
          else this.onTail(record.seqNum + 1);
        }
      } catch (error) {
        if (signal.aborted) return;
        // Typically the stream does not exist until its first append; appends still wake the pump.
        if (!(error instanceof Error && /not.?found|404/i.test(`${error.message} ${(error as { status?: number }).status ?? ""}`))) {
          this.onError(error);
        }
      }
      await new Promise((r) => setTimeout(r, 1_000).unref());
    }
  }
}

function deliver(sub: Subscriber, records: StoredRecord[]) {
  for (const record of records) {
    if (record.seqNum < sub.next) continue;
    sub.queue.push(record);
    sub.next = record.seqNum + 1;
  }
}

export class ChannelFanout {
  private followers = new Map<string, Promise<Follower>>();
  private unsubscribe: () => void;
  /** Bytes per read from the store (see FanoutOptions.replayBatchBytes). */
  private readBytes: number;
  private subscriberBytes: number;

  constructor(
    private store: StreamStore,
    private signals: Signals,
    private options: FanoutOptions,
    private onError: (error: unknown) => void,
  ) {
    this.readBytes = options.replayBatchBytes ?? limits.replayBatchBytes;
    this.subscriberBytes = options.subscriberBufferBytes ?? limits.subscriberBufferBytes;
    this.unsubscribe = signals.subscribe((signal) => {
      if (signal.kind === "append") {
        void this.followers.get(channelKey(signal))?.then((f) => f.onTail(signal.tail));
      } else if (signal.kind === "session" && signal.closed) {
        for (const io of ["OUT", "IN"] as const) {
          void this.followers.get(channelKey({ sessionId: signal.sessionId, io }))?.then((f) => f.close());
        }
      } else if (signal.kind === "missed") {
        for (const follower of this.followers.values()) void follower.then((f) => this.lookAgain(f)).catch(this.onError);
      }
    });
  }

  /** Appends and closes of other processes may have gone unheard: the follower reads its tail, and its session's state. */
  private async lookAgain(follower: Follower) {
    if (await this.options.sessionClosed?.(follower.channel.sessionId)) return follower.close();
    follower.onTail(await this.store.tail(follower.channel));
  }

  /**
   * Appends made by this process, with their records. Wire this before the append signal reaches
   * this fan-out: the signal only moves the target, and would start a read that this makes needless.
   */
  appended(channel: ChannelKey, ack: AppendAck, data: readonly unknown[]) {
    void this.followers.get(channelKey(channel))?.then((f) => f.onAppended(ack, data));
  }

  get followerCount() {
    return this.followers.size;
  }

  /**
   * Subscribers of the channel in this process that are live: caught up, and handed each new
   * record by the channel's follower. A subscription with no fromSeqNum starts at the tail as of
   * this moment, so tests wait for it before appending instead of sleeping.
   */
  async liveSubscribers(channel: ChannelKey): Promise<number> {
    const follower = await this.followers.get(channelKey(channel))?.catch(() => undefined);
    return follower ? [...follower.subscribers].filter((sub) => sub.live).length : 0;
  }

  /**
   * Replays the channel from fromSeqNum (default: its tail), then follows it live, with no gap
   * or duplicate across the switch. Ends once the session is closed and everything is delivered.
   * `replayed`: records from fromSeqNum on that the caller has read already; they are delivered
   * first, and the replay goes on after them. Default: none.
   */
  subscribe(
    channel: ChannelKey,
    fromSeqNum: number | undefined,
    isClosed: () => Promise<boolean>,
    replayed: StoredRecord[] = [],
  ): AsyncIterableIterator<StoredRecord> {
    const id = channelKey(channel);
    let follower: Follower | undefined;
    const sub: Subscriber = {
      next: fromSeqNum ?? -1,
      live: false,
      queue: new AsyncQueue<StoredRecord>(
        this.options.subscriberBuffer,
        () => new ApiError("RATE_LIMITED", "subscriber too slow: it fell too far behind the channel and was disconnected"),
        () => follower && this.detach(id, follower, sub),
        // Counted from the record's one shared encoding: no per-subscriber work.
        { maxBytes: this.subscriberBytes, sizeOf: recordBytes },
      ),
    };
    if (fromSeqNum !== undefined) deliver(sub, replayed);
    void (async () => {
      try {
        follower = await this.follower(channel);
        // Gone while the follower was being made: drop the follower too if nobody else wants it.
        if (sub.queue.closed) return this.detach(id, follower, sub);
        // Registered before catching up, so the follower is kept while this subscriber replays.
        follower.subscribers.add(sub);
        // Checked after registering: a close from here on reaches the follower, one before is seen here.
        if (await isClosed()) return await this.replay(channel, sub, Infinity);
        if (sub.next < 0) sub.next = follower.position;
        // Catch up from the store until the follower's position, then let it take over.
        while (sub.next < follower.position && !follower.closed) {
          await this.replay(channel, sub, follower.position);
          if (sub.queue.closed) return;
        }
        if (follower.closed) return await this.replay(channel, sub, Infinity);
        sub.live = true;
      } catch (error) {
        // Replaying from below the head (a trim came after the subscription was checked): the
        // subscriber learns where the channel now starts, as a new reader would.
        if (trimmedHead(error) !== undefined) return sub.queue.fail(error as ApiError);
        this.onError(error);
        sub.queue.fail(new ApiError("INTERNAL_SERVER_ERROR", "could not read the channel"));
      }
    })();
    return sub.queue;
  }

  /** Reads from the store into the subscriber up to `until` (exclusive) or the store's tail. */
  private async replay(channel: ChannelKey, sub: Subscriber, until: number) {
    if (sub.next < 0) sub.next = await this.store.tail(channel);
    while (sub.next < until && !sub.queue.closed) {
      await sub.queue.drained(Math.floor(this.options.subscriberBuffer / 2), Math.floor(this.subscriberBytes / 2));
      // No more than the subscriber has room for, so catching up never trips its own budget: the
      // store measures only the records' JSON, the budget also an envelope per record.
      const limit = Math.max(1, Math.min(this.options.readBatch, until - sub.next, this.options.subscriberBuffer - sub.queue.size));
      const room = this.subscriberBytes - sub.queue.bytes - limit * RECORD_ENVELOPE_BYTES;
      const records = await this.store.read(channel, sub.next, limit, Math.max(1, Math.min(this.readBytes, room)));
      if (records.length === 0) break;
      deliver(sub, records);
    }
    if (until === Infinity) sub.queue.end();
  }

  private follower(channel: ChannelKey): Promise<Follower> {
    const id = channelKey(channel);
    let follower = this.followers.get(id);
    if (!follower) {
      // The tail is read once other nodes' appends and closes are heard: nothing falls in between.
      const listening = [this.signals.listen(topics.channel(channel)), this.signals.listen(topics.session(channel.sessionId))];
      follower = Promise.all(listening.map((topic) => topic.ready))
        .then(() => this.store.tail(channel))
        .then((tail) => new Follower(this.store, channel, tail, this.options.readBatch, this.readBytes, this.onError, this.options.follow, listening));
      follower.catch(() => {
        this.followers.delete(id);
        for (const topic of listening) topic.release();
      });
      this.followers.set(id, follower);
    }
    return follower;
  }

  private detach(id: string, follower: Follower, sub: Subscriber) {
    follower.subscribers.delete(sub);
    if (follower.subscribers.size === 0 && this.followers.get(id)) {
      void this.followers.get(id)!.then((f) => {
        if (f === follower && f.subscribers.size === 0) {
          this.followers.delete(id);
          f.stop();
        }
      });
    }
  }

  close() {
    this.unsubscribe();
    for (const f of this.followers.values()) {
      void f.then((follower) => {
        follower.stop();
        follower.subscribers.forEach((s) => s.queue.end());
      });
    }
    this.followers.clear();
  }
}
