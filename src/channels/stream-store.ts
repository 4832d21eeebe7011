export type SessionIO = "OUT" | "IN";

/** A channel: one of the two streams of a session. */
export interface ChannelKey {
  sessionId: string;
  io: SessionIO;
}

/** Records to append: their values, and each one's JSON and the total bytes, encoded once by the writer (encodeRecords). */
export interface NewRecords {
  data: readonly unknown[];
  json: readonly string[];
  /** Bytes of the records' JSON, summed: what the storage caps count. */
  bytes: number;
}

export interface StoredRecord {
  seqNum: number;
  timestamp: Date;
  data: unknown;
}

export interface AppendAck {
  firstSeqNum: number;
  lastSeqNum: number;
  /** The seqNum the next record will get. */
  tailSeqNum: number;
  /**
   * The timestamp every record of the append was stored with, when the store gives them one
   * (the local store does): the fan-out can then hand the records on without reading them back.
   */
  timestamp?: Date;
}

/** A session as clients name it (friendly id or externalId), within its environment. */
export interface SessionName {
  environmentId: string;
  ref: string;
}

/** One append, as the writer hands it to the store. */
export interface AppendRequest {
  /** The session as the client named it: the store finds it, under the lock a close waits for. */
  session: SessionName;
  io: SessionIO;
  records: NewRecords;
  /** The tail the client expects; anything else is refused with SEQ_NUM_MISMATCH. */
  matchSeqNum?: number;
  /** A retry with the same key on the same channel (within limits.idempotencyKeyTtlMs) is answered with the first append's seqNums. */
  idempotencyKey?: string;
}

/** What became of an append. Refusals that are the client's to fix (matchSeqNum, caps, bad records) are thrown as ApiErrors. */
export type AppendOutcome =
  | {
      status: "appended";
      sessionId: string;
      ack: AppendAck;
      /** True when an earlier append with the same idempotency key was found: nothing was stored now. */
      deduplicated: boolean;
    }
  | { status: "closed"; sessionId: string }
  | { status: "missing" };

export interface TrimResult {
  previousHead: number;
  head: number;
}

/** Both channels of a session. */
export const channelsOf = (sessionId: string): ChannelKey[] => [
  { sessionId, io: "OUT" },
  { sessionId, io: "IN" },
];

/** Where clients may reach a channel directly, when the store allows it. */
export interface ChannelAccess {
  backend: string;
  stream: string;
  basin?: string;
  endpoint?: string;
  accessToken?: string;
  expiresAt?: Date;
  /** The store's id of the access token, for revoking it before it expires. */
  grantId?: string;
}

/**
 * Durable, append-only record streams. Every store has one append path, which also decides what
 * guards a write: the session (found by the client's name for it) must exist and take writes, a
 * close waits for appends in flight (so none lands after it), appends to a channel are serialized,
 * idempotency keys and the storage caps are checked. The local store does all of it in one
 * statement; stores outside the service's database run behind an AppendGuard (append-guard.ts).
 */
export interface StreamStore {
  readonly backend: string;
  /**
   * Stores records at the tail of the session's channel, guarded as above. Throws SEQ_NUM_MISMATCH
   * when matchSeqNum is not the tail, PAYLOAD_TOO_LARGE (StorageFullError) when a cap refuses, and
   * BAD_USER_INPUT for records the store cannot hold; nothing of the append is stored then.
   */
  append(request: AppendRequest): Promise<AppendOutcome>;
  /**
   * Records from fromSeqNum on, in order, at most limit; fewer (or none) at the tail. With
   * maxBytes, also only as many as fit in that many bytes of record JSON (by the store's own
   * measure: PostgreSQL's text of the stored jsonb, S2's metered bytes), but always at least one
   * when there is one: readers that cannot know record sizes in advance size reads by bytes
   * instead of assuming every record is as large as a record may be. Default: no byte cap.
   * Fails with RECORDS_TRIMMED (carrying the head) when fromSeqNum is below the head, decided
   * with the read itself: a read never skips trimmed records silently.
   */
  read(channel: ChannelKey, fromSeqNum: number, limit: number, maxBytes?: number): Promise<StoredRecord[]>;
  tail(channel: ChannelKey): Promise<number>;
  /** The first seqNum still stored: records below it were trimmed. The tail when nothing is stored. */
  head(channel: ChannelKey): Promise<number>;
  /**
   * Moves the head forward to beforeSeqNum (never past the tail, never back; seqNums are never
   * reused) and removes the records below it, in short steps that do not hold up appends.
   * Answers the head before and after. Idempotent.
   */
  trim(channel: ChannelKey, beforeSeqNum: number): Promise<TrimResult>;
  /** The first seqNum stored at or after `time`, or the tail when none is: how far age-based retention trims. */
  seqNumAt(channel: ChannelKey, time: Date): Promise<number>;
  /** Removes both channels of a deleted session from the store, records and all. Idempotent. */
  deleteChannels(sessionId: string): Promise<void>;
  /** Direct access for a client: `ops` and a lifetime the caller already decided (see initializeSessionChannel). */
  access(channel: ChannelKey, ops: "read" | "write", expiresAt: Date): Promise<ChannelAccess>;
  /** Revokes access tokens `access` handed out (by their grantId) before they expire. */
  revokeAccess(grantIds: readonly string[]): Promise<void>;
}

/**
 * A store's own live read: records from fromSeqNum on, then each new one, until the signal aborts.
 * Stores that clients may write to directly (S2) have one, so followers see writes that never
 * passed through this service; the composition root hands it to the fan-out (FanoutOptions.follow).
 */
export type Follow = (channel: ChannelKey, fromSeqNum: number, signal: AbortSignal) => AsyncIterable<StoredRecord>;

/** A channel's name in an external store (S2's stream name, shown to clients by initializeSessionChannel). */
export const streamName = ({ sessionId, io }: ChannelKey) => `sessions/${sessionId}/${io.toLowerCase()}`;

/**
 * The one in-process string form of a channel, `{sessionId}/{io}`: the key of maps and of the
 * pending index. Session ids never contain "/", so it splits back unambiguously.
 */
export const channelKey = ({ sessionId, io }: ChannelKey) => `${sessionId}/${io}`;

/** The channel a channelKey() names. */
export function parseChannelKey(key: string): ChannelKey {
  const at = key.lastIndexOf("/");
  return { sessionId: key.slice(0, at), io: key.slice(at + 1) as SessionIO };
}
