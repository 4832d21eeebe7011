import { recordsTrimmed, seqNumMismatch } from "../errors/index.js";
import { OpenSessionsGuard, type AppendGuard, type RecordSink } from "./append-guard.js";
import {
  channelKey,
  channelsOf,
  streamName,
  type AppendAck,
  type AppendOutcome,
  type AppendRequest,
  type ChannelAccess,
  type ChannelKey,
  type NewRecords,
  type StoredRecord,
  type StreamStore,
  type TrimResult,
} from "./stream-store.js";

export interface MemoryStreamStoreOptions {
  /**
   * What decides whether an append may go ahead (the session, its close, caps, idempotency keys).
   * Default: OpenSessionsGuard (every session open, named by its id; keys kept in memory). The
   * store conformance suite gives it the service's DatabaseAppendGuard, as S2 has.
   */
  guard?: AppendGuard;
  /** The clock each append is stamped with. Default: the system clock (`new Date()`). */
  now?: () => Date;
}

interface MemoryChannel {
  /** The first seqNum still stored: `records[i]` is seqNum head + i. */
  head: number;
  /** The records from the head to the tail. */
  records: StoredRecord[];
  /** Each record's JSON in UTF-8 bytes, as the writer encoded it: what the byte cap of `read` counts. */
  bytes: number[];
  /** Followers waiting for the next append. */
  waiters: Set<() => void>;
}

/**
 * Channels in this process's memory: unit tests, and the reference behaviour the conformance
 * suite (tests/helpers/store-conformance.ts) holds every store to. SeqNums are dense from 0.
 * An append checks and stores in one synchronous step, so concurrent appends to a channel are
 * atomic and never share or skip a seqNum, whoever calls. Nothing survives the process.
 */
export class MemoryStreamStore implements StreamStore {
  readonly backend = "memory";
  private channels = new Map<string, MemoryChannel>();
  private now: () => Date;
  private guard: AppendGuard;
  private sink: RecordSink = { put: (channel, records, matchSeqNum) => this.put(channel, records, matchSeqNum), tail: (channel) => this.tail(channel) };

  constructor(options: MemoryStreamStoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.guard = options.guard ?? new OpenSessionsGuard();
  }

  private channel(key: ChannelKey): MemoryChannel {
    const name = channelKey(key);
    let channel = this.channels.get(name);
    if (!channel) {
      channel = { head: 0, records: [], bytes: [], waiters: new Set() };
      this.channels.set(name, channel);
    }
    return channel;
  }

  append(request: AppendRequest): Promise<AppendOutcome> {
    return this.guard.run(request, this.sink);
  }

  /** Checks and stores in one synchronous step: concurrent appends to a channel never interleave. */
  private async put(key: ChannelKey, records: NewRecords, matchSeqNum?: number): Promise<AppendAck> {
    const channel = this.channel(key);
    const first = channel.head + channel.records.length;
    if (matchSeqNum !== undefined && matchSeqNum !== first) throw seqNumMismatch(matchSeqNum, first);
    const timestamp = this.now();
    // Stored as parsed from the writer's JSON, as the other stores store it: the caller's objects
    // may change afterwards, and `undefined` or a Date read back as their JSON would.
    for (const [i, json] of records.json.entries()) {
      channel.records.push({ seqNum: first + i, timestamp, data: JSON.parse(json) as unknown });
      channel.bytes.push(Buffer.byteLength(json));
    }
    const tail = channel.head + channel.records.length;
    for (const wake of channel.waiters) wake();
    return { firstSeqNum: first, lastSeqNum: tail - 1, tailSeqNum: tail, timestamp };
  }

  /** Byte cap by the records' JSON in UTF-8 bytes; the first record always comes. */
  async read(key: ChannelKey, fromSeqNum: number, limit: number, maxBytes = Infinity): Promise<StoredRecord[]> {
    const channel = this.channels.get(channelKey(key));
    const out: StoredRecord[] = [];
    if (!channel) return out;
    if (fromSeqNum < channel.head) throw recordsTrimmed(channel.head);
    let bytes = 0;
    for (let i = Math.max(0, fromSeqNum - channel.head); i < channel.records.length && out.length < limit; i++) {
      const size = channel.bytes[i]!;
      if (out.length > 0 && bytes + size > maxBytes) break;
      out.push(channel.records[i]!);
      bytes += size;
    }
    return out;
  }

  async tail(key: ChannelKey): Promise<number> {
    const channel = this.channels.get(channelKey(key));
    return channel ? channel.head + channel.records.length : 0;
  }

  async head(key: ChannelKey): Promise<number> {
    return this.channels.get(channelKey(key))?.head ?? 0;
  }

  /** In one synchronous step, like an append: a trim and an append never interleave. */
  async trim(key: ChannelKey, beforeSeqNum: number): Promise<TrimResult> {
    const channel = this.channels.get(channelKey(key));
    if (!channel) return { previousHead: 0, head: 0 };
    const previousHead = channel.head;
    const drop = Math.max(0, Math.min(beforeSeqNum, previousHead + channel.records.length) - previousHead);
    channel.records.splice(0, drop);
    channel.bytes.splice(0, drop);
    channel.head += drop;
    return { previousHead, head: channel.head };
  }

  async seqNumAt(key: ChannelKey, time: Date): Promise<number> {
    const channel = this.channels.get(channelKey(key));
    if (!channel) return 0;
    const found = channel.records.find((r) => r.timestamp.getTime() >= time.getTime());
    return found ? found.seqNum : channel.head + channel.records.length;
  }

  async deleteChannels(sessionId: string): Promise<void> {
    for (const key of channelsOf(sessionId)) this.channels.delete(channelKey(key));
  }

  /**
   * The store's own live read (a Follow), as S2 has: records from fromSeqNum on, then each new one
   * as it is appended; ends (done) once the signal aborts. Wired to the fan-out only where a test
   * wants a store that clients write to directly.
   */
  async *follow(key: ChannelKey, fromSeqNum: number, signal: AbortSignal): AsyncGenerator<StoredRecord> {
    const channel = this.channel(key);
    let next = Math.max(0, fromSeqNum);
    while (!signal.aborted) {
      // Trimmed meanwhile: a live read goes on from the head (readers learn of the gap from read).
      next = Math.max(next, channel.head);
      if (next < channel.head + channel.records.length) {
        yield channel.records[next++ - channel.head]!;
        continue;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          channel.waiters.delete(wake);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        channel.waiters.add(wake);
        signal.addEventListener("abort", wake, { once: true });
      });
    }
  }

  /** As the local store: clients reach the channel through this service only. */
  async access(key: ChannelKey): Promise<ChannelAccess> {
    return { backend: this.backend, stream: streamName(key) };
  }

  /** No tokens are handed out, so none to revoke. */
  async revokeAccess() {}
}
