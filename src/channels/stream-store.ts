import type { Prisma } from "../generated/prisma/client.js";

export type SessionIO = "OUT" | "IN";

/** A channel: one of the two streams of a session. */
export interface ChannelKey {
  sessionId: string;
  io: SessionIO;
}

/** Records to append: their values, and each one's JSON, encoded once by the writer. */
export interface NewRecords {
  data: readonly unknown[];
  json: readonly string[];
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

export type GuardedAppend =
  | { status: "appended"; sessionId: string; ack: AppendAck }
  | { status: "closed"; sessionId: string }
  | { status: "missing" };

/** The database transaction an append runs in; it holds the session and channel locks. */
export type AppendTransaction = Prisma.TransactionClient;

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
 * Durable, append-only record streams. Appends are serialized per channel by the caller (see
 * ChannelWriter), which also keeps them from landing after a close.
 */
export interface StreamStore {
  readonly backend: string;
  /** Stores records at the tail; fails with SEQ_NUM_MISMATCH when matchSeqNum is not the tail. */
  append(tx: AppendTransaction, channel: ChannelKey, records: NewRecords, matchSeqNum?: number): Promise<AppendAck>;
  /**
   * The same append in one statement that also finds the session by the name the client gave and
   * takes the session and channel locks: the fast path for stores in the service's database when
   * no idempotency key needs checking.
   */
  appendGuarded?(session: SessionName, io: SessionIO, records: NewRecords, matchSeqNum?: number): Promise<GuardedAppend>;
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
  /**
   * Records from fromSeqNum on, live, until the signal aborts. Stores that clients may write to
   * directly (S2) offer it, so followers see writes that never passed through this service.
   */
  follow?(channel: ChannelKey, fromSeqNum: number, signal: AbortSignal): AsyncIterable<StoredRecord>;
  /** Direct access for a client: `ops` and a lifetime the caller already decided (see initializeSessionChannel). */
  access(channel: ChannelKey, ops: "read" | "write", expiresAt: Date): Promise<ChannelAccess>;
  /** Revokes access tokens `access` handed out (by their grantId) before they expire. */
  revokeAccess(grantIds: readonly string[]): Promise<void>;
}

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
