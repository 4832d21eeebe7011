import {
  AppendInput,
  AppendRecord,
  meteredBytes,
  RangeNotSatisfiableError,
  S2,
  S2Endpoints,
  S2Error,
  SeqNumMismatchError,
  type ReadRecord,
  type S2Basin,
  type StreamConfig,
} from "@s2-dev/streamstore";
import { randomUUID } from "node:crypto";
import { setTimeout } from "node:timers/promises";
import type { Sql } from "../db/index.js";
import { limits } from "../limits.js";
import { jsonProblem } from "../text.js";
import { ApiError, recordsTrimmed, seqNumMismatch } from "../errors/index.js";
import type { AppendGuard, RecordSink } from "./append-guard.js";
import { ChannelHeads } from "./channel-heads.js";
import {
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

export interface S2Options {
  accessToken: string;
  basin: string;
  /** S2's account and basin endpoints (config.s2Endpoints); unset: S2 cloud's, the SDK's defaults. */
  endpoints?: S2EndpointSettings;
  /** The service's database, where channel heads are kept (see ChannelHeads). */
  sql: Sql;
  /** What decides whether an append may go ahead: the service's DatabaseAppendGuard (S2 knows nothing of sessions). */
  guard: AppendGuard;
}

export interface S2EndpointSettings {
  /** Where access tokens are issued and revoked. */
  account: string;
  /** Where streams live; may hold `{basin}`, replaced by the basin's name. */
  basin: string;
}

/** S2 cloud's endpoints, as the SDK resolves them when given none. */
const cloud = new S2Endpoints();
const cloudEndpoints: S2EndpointSettings = { account: cloud.accountBaseUrl(), basin: cloud.basinBaseUrl("{basin}") };

/**
 * The SDK's endpoint settings: only those that differ from its defaults. (Given a basin endpoint,
 * the SDK also names the basin in an `s2-basin` header, which S2 cloud's per-basin hosts do not need.)
 */
const sdkEndpoints = (e: S2EndpointSettings) => ({
  ...(e.account !== cloudEndpoints.account && { account: e.account }),
  ...(e.basin !== cloudEndpoints.basin && { basin: e.basin }),
});

/**
 * S2's command records (a trim, a fence) carry one header with an empty name; they hold no record
 * of the channel, only take a seqNum, and are never handed on.
 */
const isCommand = (r: ReadRecord) => r.headers.length === 1 && r.headers[0]![0] === "";

/**
 * Every channel stream's configuration, set when the service makes the stream rather than left to
 * the basin's defaults (S2's: records kept 7 days). The contract keeps records until they are
 * trimmed or their session deleted (`recordRetention` and RECORD_RETENTION unset: kept; sessions
 * may live a year or more), and the service applies its retention itself: the sweeper trims by
 * `recordRetention` with S2 trim commands after moving the channel's head, and SESSION_RETENTION
 * deletes the streams with the session. So S2 keeps records until trimmed (`infinite`), never by an
 * age of its own, which would remove records below a head the service still shows (a silent gap,
 * never RECORDS_TRIMMED); and never deletes a stream it finds empty, after which its seqNums would
 * start again at 0 (`deleteOnEmpty` 0: off).
 */
export const S2_STREAM_CONFIG = {
  retentionPolicy: { infinite: {} },
  deleteOnEmpty: { minAgeSecs: 0 },
} as const satisfies StreamConfig;

/** The most one unary read returns, in metered bytes; also S2's largest record, so it always holds the next one. */
const S2_READ_MAX_BYTES = 1024 * 1024;

/** S2's most metered bytes per append: 8 per record besides its body (and its headers: none here). */
const S2_APPEND_MAX_BYTES = 1024 * 1024;

/**
 * A stream not made yet: an empty channel. Only `stream_not_found`: any other 404 (a wrong basin's
 * `basin_not_found`) is a fault to report, never a channel to show as empty.
 */
const isNotFound = (e: unknown) => e instanceof S2Error && e.code === "stream_not_found";

/**
 * A record body as a value: its JSON, or, for a body that is not JSON (written straight to S2 by a
 * client holding a write token), its text. Readers and followers never fail on a record.
 * JSON the API would refuse (nested deeper than limits.jsonDepth, lone surrogates) is its text
 * too: nested a hundred thousand deep it overflowed the stack of every encoding of it (every read
 * of the channel, the agent's included, failed), and jsonb refuses a lone surrogate (the waitpoint
 * it completes could not). Small bodies can be neither, so only others are walked.
 */
export function decodeBody(body: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(body) as unknown;
  } catch {
    return body;
  }
  if (body.length < 2 * limits.jsonDepth && !body.includes("\\u")) return value;
  return jsonProblem(value) === undefined ? value : body;
}

const tooLarge = (message: string) => new ApiError("PAYLOAD_TOO_LARGE", message);

/**
 * S2 too busy still after the SDK's retries (429 `rate_limited`, 502 `hot_server`, 503 while
 * draining): answers that guarantee nothing was done, so the client is told to try again
 * (RATE_LIMITED) rather than shown an internal error for an append that may or may not be stored.
 */
function throttled(error: unknown): ApiError | undefined {
  if (!(error instanceof S2Error && error.origin === "server" && error.hasNoSideEffects())) return undefined;
  return new ApiError("RATE_LIMITED", `S2 is busy with this channel (${error.code ?? error.status}): nothing was done; try again shortly`);
}

/**
 * The header that tags the first record of an append with an idempotency key with the append's own
 * id (a UUID): how a second try after a lost answer learns whether the first one was stored.
 */
const APPEND_ID_HEADER = "sessions-append-id";
/** What the tag adds to S2's metered size: 2 bytes per header, its name and its value. */
const APPEND_ID_BYTES = 2 + APPEND_ID_HEADER.length + 36;
/** Tries of a keyed append: a lost answer or a tail moved by a direct writer takes one each. */
const KEYED_APPEND_TRIES = 4;

/**
 * Refuses, before S2 is asked, an append S2 would: over 1 MiB metered (8 bytes a record besides
 * its JSON, and the tag of a keyed append).
 */
function checkMetered(json: readonly string[], tagBytes: number) {
  let metered = tagBytes;
  for (const body of json) metered += 8 + Buffer.byteLength(body);
  if (metered > S2_APPEND_MAX_BYTES) {
    const tag = tagBytes > 0 ? `, ${tagBytes} for an idempotencyKey's tag` : "";
    throw tooLarge(`the append is ${metered} bytes as S2 meters it (8 bytes a record besides its JSON${tag}); an append is at most 1 MiB so metered`);
  }
}

/** The tail a SEQ_NUM_MISMATCH carries; undefined for any other error. */
function mismatchTail(error: unknown): number | undefined {
  if (!(error instanceof ApiError) || error.extensions.code !== "SEQ_NUM_MISMATCH") return undefined;
  const tail = error.extensions.tailSeqNum;
  return typeof tail === "number" ? tail : undefined;
}

/** An error after which the append may or may not be stored (anything but a refusal): sending it again at the same seqNum settles it. */
const mayBeStored = (error: unknown) =>
  !(error instanceof ApiError) && !(error instanceof S2Error && error.origin === "server" && error.status >= 400 && error.status < 500 && error.status !== 408);

const outcomeUnknown = () =>
  new ApiError(
    "INTERNAL_SERVER_ERROR",
    "S2's answer to this append was lost: it may or may not be stored. Read the channel's tail before sending it again, or append with an idempotencyKey, which is stored once",
  );

/** Checks the basin exists and the token reaches it, so a wrong S2_BASIN stops the service at start-up rather than showing empty channels. */
export async function checkS2Basin(options: Pick<S2Options, "accessToken" | "basin" | "endpoints">): Promise<void> {
  const endpoints = options.endpoints ?? cloudEndpoints;
  const s2 = new S2({ accessToken: options.accessToken, endpoints: sdkEndpoints(endpoints) });
  // A stream that is never made: check-tail is an operation the service needs anyway, and S2
  // answers stream_not_found only once the basin was found.
  const probe = s2.basin(options.basin).stream("sessions/.start-up-check", { forceTransport: "fetch" });
  try {
    await probe.checkTail();
  } catch (error) {
    if (isNotFound(error)) return;
    const where = endpoints.basin;
    if (error instanceof S2Error && error.code === "basin_not_found") throw new Error(`S2_BASIN "${options.basin}": no such basin at ${where} (basin_not_found)`);
    const why = error instanceof S2Error ? `${error.status} ${error.code ?? ""} ${error.message}`.replace(/\s+/g, " ").trim() : String(error);
    throw new Error(`S2_BASIN "${options.basin}" at ${where} could not be checked: ${why}`);
  }
}

/**
 * Channels as S2 streams `sessions/{sessionId}/{out|in}`, created on first append or when direct
 * access is granted. Records are JSON text bodies (a body that is not JSON, written straight to S2,
 * reads as its text: decodeBody). Appends retry only when S2 cannot have applied them
 * (`noSideEffects`), so a lost response never duplicates a record; a keyed append is also sent
 * again after a lost answer, at the same seqNum, and so is stored once (putOnce).
 */
export class S2StreamStore implements StreamStore {
  readonly backend = "s2";
  private s2: S2;
  private basin: S2Basin;
  private heads: ChannelHeads;
  private sink: RecordSink = { put: (channel, records, matchSeqNum) => this.put(channel, records, matchSeqNum), tail: (channel) => this.tail(channel) };
  /**
   * An append without a key: not sent again after an answer that may have been lost (it could be
   * stored twice), so the client is told plainly that its outcome is unknown.
   */
  private unkeyedSink: RecordSink = {
    ...this.sink,
    put: (channel, records, matchSeqNum) =>
      this.put(channel, records, matchSeqNum).catch((error: unknown) => {
        throw mayBeStored(error) ? outcomeUnknown() : error;
      }),
  };

  private endpoints: S2EndpointSettings;
  /** Streams whose configuration could not be set after S2 made them (configureStream): tried again at their next append. */
  private unconfigured = new Set<string>();

  constructor(private options: S2Options) {
    this.endpoints = options.endpoints ?? cloudEndpoints;
    this.heads = new ChannelHeads(options.sql);
    this.s2 = new S2({
      accessToken: options.accessToken,
      endpoints: sdkEndpoints(this.endpoints),
      retry: { appendRetryPolicy: "noSideEffects" },
    });
    this.basin = this.s2.basin(options.basin);
  }

  private stream(channel: ChannelKey) {
    // fetch (HTTP/1.1 + SSE) rather than HTTP/2 sessions: one transport that every proxy and test double speaks.
    return this.basin.stream(streamName(channel), { forceTransport: "fetch" });
  }

  append(request: AppendRequest): Promise<AppendOutcome> {
    const keyed = request.idempotencyKey !== undefined;
    // Before the guard's transaction: nothing is locked for an append S2 would refuse.
    checkMetered(request.records.json, keyed ? APPEND_ID_BYTES : 0);
    // A keyed append is stored once even when S2's answer is lost: the guard writes the key only
    // after the put, so the put itself must learn what became of it.
    const sink: RecordSink = keyed ? { ...this.sink, put: (channel, records, matchSeqNum) => this.putOnce(channel, records, matchSeqNum, randomUUID()) } : this.unkeyedSink;
    return this.options.guard.run(request, sink);
  }

  /**
   * A keyed append, stored once however S2's answers go (issue #18). It goes at a known seqNum
   * (the client's matchSeqNum, else the tail, read under the guard's channel lock), its first
   * record tagged with the append's id. Should the answer be lost, it is sent again at that same
   * seqNum: S2 stores it then, or refuses it (412) because the first try was stored, which the
   * record at that seqNum, carrying the tag, shows. Without the tag there, a direct writer moved
   * the tail: the append follows it, unless the client gave its own matchSeqNum.
   */
  private async putOnce(channel: ChannelKey, records: NewRecords, matchSeqNum: number | undefined, id: string): Promise<AppendAck> {
    let at = matchSeqNum ?? (await this.tail(channel));
    let last: unknown;
    /** A try's answer was lost: it is stored at `at` (each try goes there alone) or nowhere. */
    let uncertain = false;
    const storedAt = (tail: number): AppendAck => ({ firstSeqNum: at, lastSeqNum: at + records.json.length - 1, tailSeqNum: tail });
    for (let tries = 0; tries < KEYED_APPEND_TRIES; tries++) {
      try {
        return await this.put(channel, records, at, id);
      } catch (error) {
        last = error;
        const tail = mismatchTail(error);
        if (tail === undefined) {
          if (mayBeStored(error)) {
            uncertain = true;
            await setTimeout(100 * 2 ** tries);
            continue;
          }
          // Refused (S2 busy, say) after a lost answer: that earlier try may be what is stored, so
          // the refusal's "nothing was done" holds only if the tag is not there.
          if (uncertain && (await this.taggedAt(channel, at, id))) return storedAt(await this.tail(channel).catch(() => at + records.json.length));
          throw error;
        }
        if (await this.taggedAt(channel, at, id)) return storedAt(tail);
        if (matchSeqNum !== undefined) throw error;
        at = tail;
      }
    }
    throw last;
  }

  /** Whether the record at `seqNum` is the first of the append tagged `id`. */
  private async taggedAt(channel: ChannelKey, seqNum: number, id: string): Promise<boolean> {
    const [record] = (await this.stream(channel).read({ start: { from: { seqNum }, clamp: true }, stop: { limits: { count: 1 } } })).records;
    return record?.seqNum === seqNum && record.headers.some(([name, value]) => name === APPEND_ID_HEADER && value === id);
  }

  /** The records as one S2 append; S2 checks matchSeqNum. With `id`, the first record carries it (APPEND_ID_HEADER). */
  private async put(channel: ChannelKey, records: NewRecords, matchSeqNum?: number, id?: string): Promise<AppendAck> {
    let input;
    try {
      input = AppendInput.create(
        records.json.map((body, i) => AppendRecord.string({ body, ...(i === 0 && id !== undefined && { headers: [[APPEND_ID_HEADER, id]] }) })),
        matchSeqNum === undefined ? undefined : { matchSeqNum },
      );
    } catch (error) {
      // The SDK's own checks (records, metered bytes), should they ever be stricter than ours.
      if (error instanceof S2Error && error.origin === "sdk") throw tooLarge(`S2 refuses the append: ${error.message}`);
      throw error;
    }
    const attempt = () => this.stream(channel).append(input);
    try {
      let ack;
      try {
        ack = await attempt();
        // The first records of a stream this append did not make: a basin with
        // create_stream_on_append (or on read) may have made it with its own defaults.
        if (ack.start.seqNum === 0 || this.unconfigured.has(streamName(channel))) await this.configureStream(channel);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await this.createStream(channel);
        ack = await attempt();
      }
      return { firstSeqNum: ack.start.seqNum, lastSeqNum: ack.end.seqNum - 1, tailSeqNum: ack.tail.seqNum };
    } catch (error) {
      if (error instanceof SeqNumMismatchError) throw seqNumMismatch(matchSeqNum ?? -1, error.expectedSeqNum);
      throw throttled(error) ?? error;
    }
  }

  /**
   * Makes the channel's stream, with S2_STREAM_CONFIG, unless it is there (409: made already, by
   * an append or an earlier grant, with that configuration too).
   */
  private async createStream(channel: ChannelKey) {
    try {
      await this.basin.streams.create({ stream: streamName(channel), config: S2_STREAM_CONFIG });
    } catch (error) {
      // Another writer created it first.
      if (!(error instanceof S2Error && error.status === 409)) throw error;
    }
  }

  /**
   * Sets S2_STREAM_CONFIG on a stream that is there (idempotent: a stream the service made has it
   * already). A failure does not fail the append, which is stored: the stream is tried again at its
   * next append.
   */
  private async configureStream(channel: ChannelKey) {
    const stream = streamName(channel);
    try {
      await this.basin.streams.reconfigure({ stream, ...S2_STREAM_CONFIG });
      this.unconfigured.delete(stream);
    } catch {
      this.unconfigured.add(stream);
    }
  }

  /**
   * S2 answers a unary read with at most 1,000 records and 1 MiB, and only records that fit the
   * byte limit asked: reads continue until `limit` records, the byte cap, or the tail (the answer's
   * `tail`, which S2 gives when the read reaches recent records).
   */
  async read(channel: ChannelKey, fromSeqNum: number, limit: number, maxBytes?: number): Promise<StoredRecord[]> {
    const cap = maxBytes !== undefined && Number.isFinite(maxBytes) ? Math.max(1, Math.floor(maxBytes)) : Infinity;
    const records: StoredRecord[] = [];
    // Decided before S2 is asked: S2 applies a trim later, and its records are there until then.
    const head = await this.heads.get(channel);
    if (fromSeqNum < head) throw recordsTrimmed(head);
    try {
      const stream = this.stream(channel);
      let next = fromSeqNum;
      let room = cap;
      while (records.length < limit && room > 0) {
        const start = { from: { seqNum: next }, clamp: true };
        const count = limit - records.length;
        let batch = await stream.read({ start, stop: { limits: { count, bytes: Math.min(room, S2_READ_MAX_BYTES) } } });
        // A cap below S2's largest record can leave the first record out: it still comes, alone.
        if (batch.records.length === 0 && records.length === 0 && room < S2_READ_MAX_BYTES) {
          batch = await stream.read({ start, stop: { limits: { count: 1 } } });
        }
        if (batch.records.length === 0) break;
        const first = batch.records[0]!.seqNum;
        if (records.length === 0 && next === fromSeqNum && first > fromSeqNum) {
          // S2 starts a read at the first record left: records from fromSeqNum on were removed by
          // S2 itself (a stream made before S2_STREAM_CONFIG kept the basin's age retention), never
          // by the service, whose head moves first. The head follows, and the reader is told.
          await this.heads.advance(channel, first, batch.tail?.seqNum ?? first);
          throw recordsTrimmed(first);
        }
        for (const r of batch.records) {
          if (records.length === limit) break;
          if (!isCommand(r)) records.push({ seqNum: r.seqNum, timestamp: r.timestamp, data: decodeBody(r.body) });
          room -= meteredBytes(r);
        }
        next = batch.records.at(-1)!.seqNum + 1;
        if (batch.tail && batch.tail.seqNum <= next) break;
      }
      return records;
    } catch (error) {
      if (isNotFound(error) || error instanceof RangeNotSatisfiableError) return records;
      throw throttled(error) ?? error;
    }
  }

  /** S2's live read (a Follow): clients with a write grant append to S2 directly, past this service. */
  async *follow(channel: ChannelKey, fromSeqNum: number, signal: AbortSignal): AsyncIterable<StoredRecord> {
    try {
      const session = await this.stream(channel).readSession({ start: { from: { seqNum: fromSeqNum }, clamp: true } }, { signal });
      for await (const r of session) {
        // clamp starts a read past the tail at the tail: records before fromSeqNum were not asked for.
        if (r.seqNum >= fromSeqNum && !isCommand(r)) yield { seqNum: r.seqNum, timestamp: r.timestamp, data: decodeBody(r.body) };
      }
    } catch (error) {
      // The SDK fails the read with "Request cancelled" on abort; an abort is how a follow ends.
      if (!signal.aborted) throw error;
    }
  }

  async tail(channel: ChannelKey): Promise<number> {
    try {
      return (await this.stream(channel).checkTail()).tail.seqNum;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw throttled(error) ?? error;
    }
  }

  head(channel: ChannelKey): Promise<number> {
    return this.heads.get(channel);
  }

  /**
   * The head moves in the database first (from then on reads below it are refused), then a trim
   * command record asks S2 to remove the records below it, which S2 does in its own time. The
   * command takes a seqNum of its own, above the head, and holds no record: reads pass over it. So
   * a channel trimmed to its tail shows a head one below its tail, and a client appending with
   * matchSeqNum sees the tail move by that one seqNum. (Were the head to pass the command too, a
   * subscriber following at the tail would be told that a record it never missed was trimmed.)
   */
  async trim(channel: ChannelKey, beforeSeqNum: number): Promise<TrimResult> {
    const tail = await this.tail(channel);
    const target = Math.min(beforeSeqNum, tail);
    const head = await this.heads.get(channel);
    // Nothing between the head and the target but an earlier trim's command: nothing to remove,
    // and no new command (retention would otherwise add one to an idle channel every sweep).
    if (target <= head || (target === head + 1 && (await this.isCommandAt(channel, head)))) return { previousHead: head, head };
    const moved = await this.heads.advance(channel, target, tail);
    if (moved.head > moved.previousHead) await this.stream(channel).append(AppendInput.create([AppendRecord.trim(moved.head)]));
    return moved;
  }

  private async isCommandAt(channel: ChannelKey, seqNum: number): Promise<boolean> {
    const [record] = (await this.stream(channel).read({ start: { from: { seqNum }, clamp: true }, stop: { limits: { count: 1 } } })).records;
    return record?.seqNum === seqNum && isCommand(record);
  }

  async seqNumAt(channel: ChannelKey, time: Date): Promise<number> {
    try {
      const batch = await this.stream(channel).read({ start: { from: { timestamp: time }, clamp: true }, stop: { limits: { count: 1 } } });
      return batch.records[0]?.seqNum ?? (batch.tail?.seqNum ?? (await this.tail(channel)));
    } catch (error) {
      if (isNotFound(error)) return 0;
      if (error instanceof RangeNotSatisfiableError) return this.tail(channel);
      throw error;
    }
  }

  /** Deletes both streams, then their heads; a stream gone already (or never made) is what was wanted. */
  async deleteChannels(sessionId: string): Promise<void> {
    for (const channel of channelsOf(sessionId)) {
      try {
        await this.basin.streams.delete({ stream: streamName(channel) });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    await this.heads.forget(sessionId);
  }

  /**
   * A token for this one stream, with the operations the caller's scope allows. The stream is made
   * first: the token cannot create it, and a client's first direct write (or read) of a channel
   * nobody wrote yet would otherwise find no stream.
   */
  async access(channel: ChannelKey, ops: "read" | "write", expiresAt: Date): Promise<ChannelAccess> {
    const stream = streamName(channel);
    await this.createStream(channel);
    const grantId = `session-channel-${randomUUID()}`;
    const { accessToken } = await this.s2.accessTokens.issue({
      id: grantId,
      scope: {
        basins: { exact: this.options.basin },
        streams: { exact: stream },
        ops: ops === "write" ? ["read", "check-tail", "append"] : ["read", "check-tail"],
      },
      expiresAt,
    });
    return {
      backend: this.backend,
      stream,
      basin: this.options.basin,
      endpoint: this.endpoints.basin,
      accessToken,
      expiresAt: await this.grantedExpiry(grantId, expiresAt),
      grantId,
    };
  }

  /**
   * When the token `id` really expires: S2 caps a token at its issuer's expiry, so should the
   * service's own token end before `asked`, the client is told that earlier time. `asked` when S2
   * cannot say (a service token without `list-access-tokens`, or a failed look-up): the grant
   * stands either way, only its reported end may be late.
   */
  private async grantedExpiry(id: string, asked: Date): Promise<Date> {
    try {
      const { accessTokens } = await this.s2.accessTokens.list({ prefix: id, limit: 1 });
      const at = accessTokens.find((t) => t.id === id)?.expiresAt;
      return at && at < asked ? at : asked;
    } catch {
      return asked;
    }
  }

  async revokeAccess(grantIds: readonly string[]) {
    for (const id of grantIds) {
      try {
        await this.s2.accessTokens.revoke({ id });
      } catch (error) {
        // Already gone (expired, or revoked by an earlier attempt) is what was wanted.
        if (!(error instanceof S2Error && error.status === 404)) throw error;
      }
    }
  }
}
