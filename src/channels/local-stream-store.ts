import type { Prepared, Sql } from "../db/index.js";
import { badInput, recordsTrimmed, seqNumMismatch } from "../errors/index.js";
import { appendLimits, limits } from "../limits.js";
import { isSessionId } from "../sessions/index.js";
import { groupCommit } from "./group-commit.js";
import { siblingBytes, storageCaps, StorageFullError, type StorageCaps } from "./storage-caps.js";
import {
  channelsOf,
  streamName,
  type AppendOutcome,
  type AppendRequest,
  type ChannelKey,
  type NewRecords,
  type SessionIO,
  type SessionName,
  type StoredRecord,
  type StreamStore,
  type TrimResult,
} from "./stream-store.js";

/** A session takes writes while it is neither closed nor expired: both decided inside the append's own statement. */
const takesWrites = (table: string) => `(${table}.closed_at IS NULL AND (${table}.expires_at IS NULL OR ${table}.expires_at > now()))`;

/**
 * One statement, so one implicit transaction: find the session by the client's name for it and
 * hold it FOR SHARE (a close waits for it), look for an earlier append with the same idempotency
 * key, upsert the channel row (appends to the channel queue behind its lock), then insert the
 * records and the key. $1 environment, $2 session name, $3 io, $4 record count, $5 matchSeqNum or
 * null, $6 the records as a JSON array, $7 their bytes, $8 the per-session cap and $9 the
 * per-environment cap (null: none; see storage-caps.ts), $10 the idempotency key or null, $11 how
 * long keys are remembered, in ms.
 *
 * The channel row's stored_bytes grows with the tail, and the upsert happens only if the session's
 * two channels and the append fit the cap (judged on the locked row, so exact for the channel) and
 * the environment's measured total (`env_room`, read and never locked) leaves room. An earlier
 * append with the key, still remembered, is answered instead (`dup_first`, `dup_last` and the tail
 * now), full or not. The statement sees the keys committed before it began: a concurrent append
 * with the same key that commits first makes this one's key insert fail on the primary key, and
 * the whole statement with it; run again, it finds that append (LocalStreamStore.appendAlone). A
 * forgotten key's row still there fails it the same way, and is deleted before the next run.
 * The timestamp column keeps milliseconds, so the one reported is cut the same way.
 */
const guardedAppend = (sessionColumn: "id" | "external_id"): Prepared => ({
  name: `append-by-${sessionColumn}`,
  text: `
  WITH s AS (
    SELECT id, ${takesWrites("sessions")} AS open FROM sessions
    WHERE environment_id = $1 AND ${sessionColumn} = $2 FOR SHARE
  ), earlier AS (
    SELECT k.first_seq_num, k.last_seq_num FROM s JOIN append_keys k ON k.session_id = s.id AND k.io = $3 AND k.key = $10::text
    WHERE k.created_at > now() - $11::bigint * interval '1 millisecond'
  ), e AS (
    SELECT $9::bigint IS NULL
      OR COALESCE((SELECT stored_bytes FROM environment_usage WHERE environment_id = $1), 0) + $7::bigint <= $9::bigint AS room
  ), sib AS (
    SELECT ${siblingBytes("(SELECT id FROM s)", "$3")} AS bytes
  ), ch AS (
    INSERT INTO channels AS c (session_id, io, tail_seq_num, stored_bytes)
    SELECT s.id, $3, $4::bigint, $7::bigint FROM s, e, sib
    WHERE s.open AND e.room AND NOT EXISTS (SELECT 1 FROM earlier) AND ($5::bigint IS NULL OR $5::bigint = 0
      OR EXISTS (SELECT 1 FROM channels WHERE session_id = s.id AND io = $3))
      AND ($8::bigint IS NULL OR sib.bytes + $7::bigint <= $8::bigint)
    ON CONFLICT (session_id, io) DO UPDATE SET tail_seq_num = c.tail_seq_num + $4::bigint, stored_bytes = c.stored_bytes + $7::bigint
      WHERE ($5::bigint IS NULL OR c.tail_seq_num = $5::bigint)
        AND ($8::bigint IS NULL OR c.stored_bytes + $7::bigint + (SELECT bytes FROM sib) <= $8::bigint)
    RETURNING session_id, tail_seq_num
  ), ins AS (
    INSERT INTO channel_records (session_id, io, seq_num, timestamp, data)
    SELECT ch.session_id, $3, ch.tail_seq_num - $4::bigint + r.ord - 1, now(), r.d
    FROM ch, jsonb_array_elements($6::jsonb) WITH ORDINALITY AS r(d, ord)
  ), k AS (
    INSERT INTO append_keys (session_id, io, key, first_seq_num, last_seq_num, created_at)
    SELECT ch.session_id, $3, $10::text, ch.tail_seq_num - $4::bigint, ch.tail_seq_num - 1, now() FROM ch WHERE $10::text IS NOT NULL
  )
  SELECT s.id, s.open, e.room AS env_room, (SELECT tail_seq_num FROM ch) AS tail, now()::timestamptz(3) AS at,
    d.first_seq_num AS dup_first, d.last_seq_num AS dup_last,
    CASE WHEN d.first_seq_num IS NOT NULL THEN (SELECT tail_seq_num FROM channels WHERE session_id = s.id AND io = $3) END AS dup_tail
  FROM s CROSS JOIN e LEFT JOIN earlier d ON true`,
});
const appendById = guardedAppend("id");
const appendByExternalId = guardedAppend("external_id");

/** Deletes a forgotten idempotency key that is still stored ($1 environment, $2 session name, $3 io, $4 key, $5 ms remembered). */
const forgetKey = `DELETE FROM append_keys k USING sessions s
  WHERE s.environment_id = $1 AND (s.id = $2 OR s.external_id = $2) AND k.session_id = s.id AND k.io = $3 AND k.key = $4
    AND k.created_at <= now() - $5::bigint * interval '1 millisecond'`;

/** A unique index refused a row (SQLSTATE 23505): in an append, only the idempotency key's can. */
const isUniqueViolation = (error: unknown) => (error as { code?: unknown } | null)?.code === "23505";

/** Runs of an append with a key that a concurrent one, or a forgotten one, can fail (see guardedAppend). */
const KEYED_APPEND_RUNS = 3;

/**
 * Many guarded appends in one statement ($1: a JSON array of {i, env, sid | ext, io, n, b, match,
 * data}; $2 the per-session cap, $3 the per-environment cap, as above). Locks are taken in a fixed
 * order (sessions by id, then channels by session and io), so batches in several processes cannot
 * deadlock. Appends with an idempotency key never come here. It only updates channel rows that
 * exist; an item that finds none, meets a mismatch, or shares its channel with another item of the
 * batch gets no tail back, and is then appended alone by the statement above, which decides those
 * cases. An item a cap refuses is answered here, not sent alone: `env_room` false, or `full` (the
 * session's bytes before this statement plus the item's pass the cap; they only grow, so the
 * locked row would say the same).
 */
const batchAppend: Prepared = {
  name: "append-batch",
  text: `
  WITH req AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS r(i int, env text, sid text, ext text, io text, n bigint, b bigint, match bigint, data jsonb)
  ), s AS MATERIALIZED (
    SELECT req.i, ss.id, ${takesWrites("ss")} AS open,
      $3::bigint IS NULL OR COALESCE(eu.stored_bytes, 0) + req.b <= $3::bigint AS env_room
    FROM req JOIN sessions ss ON ss.environment_id = req.env AND (ss.id = req.sid OR ss.external_id = req.ext)
      LEFT JOIN environment_usage eu ON eu.environment_id = ss.environment_id
    ORDER BY ss.id
    FOR SHARE OF ss
  ), locked AS MATERIALIZED (
    SELECT s.i, c.session_id, c.io
    FROM s JOIN req ON req.i = s.i JOIN channels c ON c.session_id = s.id AND c.io = req.io
    WHERE s.open AND s.env_room
    ORDER BY c.session_id, c.io
    FOR UPDATE OF c
  ), upd AS (
    UPDATE channels c SET tail_seq_num = c.tail_seq_num + req.n, stored_bytes = c.stored_bytes + req.b
    FROM locked l JOIN req ON req.i = l.i
    WHERE c.session_id = l.session_id AND c.io = l.io AND (req.match IS NULL OR c.tail_seq_num = req.match)
      AND ($2::bigint IS NULL OR c.stored_bytes + req.b + ${siblingBytes("c.session_id", "c.io")} <= $2::bigint)
    RETURNING l.i, c.session_id, c.io, c.tail_seq_num
  ), ins AS (
    INSERT INTO channel_records (session_id, io, seq_num, timestamp, data)
    SELECT u.session_id, u.io, u.tail_seq_num - req.n + r.ord - 1, now(), r.d
    FROM upd u JOIN req ON req.i = u.i, jsonb_array_elements(req.data) WITH ORDINALITY AS r(d, ord)
  )
  SELECT req.i, s.id, s.open, s.env_room, u.tail_seq_num AS tail, now()::timestamptz(3) AS at,
    CASE WHEN u.tail_seq_num IS NULL AND s.open AND s.env_room AND $2::bigint IS NOT NULL
      THEN (SELECT COALESCE(sum(stored_bytes), 0) FROM channels WHERE session_id = s.id) + req.b > $2::bigint END AS full
  FROM req LEFT JOIN s ON s.i = req.i LEFT JOIN upd u ON u.i = req.i`,
};

/**
 * The channel's head, read in the same statement (so the same snapshot) as the records: a trim
 * moves the head before it deletes anything, so a read sees either the old head and the records
 * still there, or the new head, never a gap.
 */
const headOf = `SELECT COALESCE((SELECT head_seq_num FROM channels WHERE session_id = $1 AND io = $2), 0) AS head`;

/** Records from $3 (none when $3 is below the head), always with one row carrying the head. */
const readRecords: Prepared = {
  name: "read-records-from-head",
  text: `WITH h AS (${headOf})
  SELECT r.seq_num, r.timestamp, r.data, h.head FROM h LEFT JOIN LATERAL (
    SELECT seq_num, timestamp, data FROM channel_records
    WHERE session_id = $1 AND io = $2 AND seq_num >= $3 AND $3 >= h.head ORDER BY seq_num LIMIT $4
  ) r ON true`,
};
/**
 * readRecords within a byte budget: walks the channel a record at a time from the first one at or
 * after $3, keeping a running total of each record's JSON length, and stops before the record that
 * would take the total past $5 bytes (the first one always comes) or after $4 records. A window
 * sum over the range would have to measure every record up to the count limit, detoasting up to a
 * thousand large ones the cap then drops; the walk measures at most one record past the cap.
 * SeqNums are dense (the channel row hands them out), so the next record is seq_num + 1, looked up
 * by its primary key: the LIMIT keeps that lookup a subquery run per step, since as a join, on a
 * table without statistics yet, the planner scanned the whole channel at every step (hundreds of
 * ms for 100 records). Each record's JSON text is made once, both measured and returned.
 */
const readRecordsCapped: Prepared = {
  name: "read-records-capped-from-head",
  text: `WITH RECURSIVE h AS (${headOf}), walk AS (
    (SELECT c.seq_num, c.timestamp, j.json, 1 AS n, octet_length(j.json)::bigint AS total
     FROM h, channel_records c, LATERAL (SELECT c.data::text AS json) j
     WHERE c.session_id = $1 AND c.io = $2 AND c.seq_num >= $3 AND $3 >= h.head ORDER BY c.seq_num LIMIT 1)
    UNION ALL
    SELECT c.seq_num, c.timestamp, c.json, w.n + 1, w.total + octet_length(c.json)
    FROM walk w
    CROSS JOIN LATERAL (
      SELECT r.seq_num, r.timestamp, r.data::text AS json FROM channel_records r
      WHERE r.session_id = $1 AND r.io = $2 AND r.seq_num = w.seq_num + 1 LIMIT 1
    ) c
    WHERE w.n < $4 AND w.total + octet_length(c.json) <= $5
  )
  SELECT w.seq_num, w.timestamp, w.json, h.head FROM h LEFT JOIN walk w ON true`,
};
const readTail: Prepared = { name: "read-tail", text: "SELECT tail_seq_num FROM channels WHERE session_id = $1 AND io = $2" };
const readHead: Prepared = { name: "read-head", text: "SELECT head_seq_num FROM channels WHERE session_id = $1 AND io = $2" };

/**
 * Moves the head to $3, never past the tail and never back, under the channel row's lock for as
 * long as this one statement takes: appends queue behind it for a moment, not for the deletion
 * of the records, which comes afterwards in batches. Answers the head before and after.
 */
const moveHead = `UPDATE channels c SET head_seq_num = GREATEST(c.head_seq_num, LEAST($3::bigint, c.tail_seq_num))
  FROM (SELECT head_seq_num FROM channels WHERE session_id = $1 AND io = $2) before
  WHERE c.session_id = $1 AND c.io = $2
  RETURNING before.head_seq_num AS previous, c.head_seq_num AS head`;

/**
 * Removes up to $4 records below $3, lowest first, and takes what they held off the channel's
 * stored bytes (as PostgreSQL renders them: a little more than the JSON the append counted, so
 * the count errs low, never below zero). Records below the head are never read again, so the
 * batches can trail the head: a crash between them leaves records that the next trim removes.
 */
const deleteBelow = `WITH gone AS (
    DELETE FROM channel_records WHERE (session_id, io, seq_num) IN (
      SELECT session_id, io, seq_num FROM channel_records WHERE session_id = $1 AND io = $2 AND seq_num < $3 ORDER BY seq_num LIMIT $4)
    RETURNING octet_length(data::text) AS bytes
  ), counted AS (
    UPDATE channels SET stored_bytes = GREATEST(0, stored_bytes - (SELECT COALESCE(sum(bytes), 0) FROM gone))
    WHERE session_id = $1 AND io = $2 AND EXISTS (SELECT 1 FROM gone)
  )
  SELECT count(*)::int AS n FROM gone`;

/** The first record at or after a time, above the head; timestamps only grow along a channel. */
const firstSince = `WITH h AS (${headOf})
  SELECT seq_num FROM h, channel_records WHERE session_id = $1 AND io = $2 AND seq_num >= h.head AND timestamp >= $3
  ORDER BY seq_num LIMIT 1`;

/** Records removed per statement by a trim or a delete: each statement short, nothing held for long. */
const DELETE_BATCH = 1_000;

interface PendingAppend {
  session: SessionName;
  io: SessionIO;
  count: number;
  matchSeqNum?: number;
  idempotencyKey?: string;
  json: string;
  /** Bytes of the records' JSON, for the storage caps. */
  bytes: number;
}

interface AppendRow {
  id: string | null;
  open: boolean | null;
  /** False when the environment's measured total leaves no room for the append. */
  env_room: boolean | null;
  tail: string | bigint | null;
  at: Date;
  /** Batch statement only: true when the session cap refused the item. */
  full?: boolean | null;
  /** Single statement only: an earlier append with the idempotency key, and the tail now. */
  dup_first?: string | bigint | null;
  dup_last?: string | bigint | null;
  dup_tail?: string | bigint | null;
}

export interface LocalStreamStoreOptions {
  /** Caps on stored record bytes, checked inside the append statements. Default: the limits table's defaults. */
  caps?: StorageCaps;
}

/** Appends above this size go alone: batching pays off for the many small ones. */
const BATCH_ITEM_BYTES = 64 * 1024;

/** `\u0000` in JSON text, but not an escaped backslash followed by "u0000". */
const escapedNul = /(?:^|[^\\])(?:\\\\)*\\u0000/;

/** The records as one JSON array. PostgreSQL's jsonb cannot hold the NUL character; say so before it fails a whole batch. */
function storableJson(records: NewRecords) {
  const json = `[${records.json.join(",")}]`;
  if (escapedNul.test(json)) throw badInput("records cannot contain the NUL character (\\u0000) in the local store");
  return json;
}

/**
 * The records of a read statement's rows (each row carries the head; a row without a seqNum only
 * that), or RECORDS_TRIMMED when the read began below the head.
 */
function fromHead<R extends { seq_num: string | bigint | null; head: string | bigint }>(rows: R[], fromSeqNum: number): (R & { seq_num: string | bigint })[] {
  const head = Number(rows[0]?.head ?? 0);
  if (fromSeqNum < head) throw recordsTrimmed(head);
  return rows.filter((r): r is R & { seq_num: string | bigint } => r.seq_num !== null);
}

/** What a row of either append statement says; undefined when the item must be appended alone. */
function appendOutcome(row: AppendRow | undefined, count: number): AppendOutcome | undefined {
  if (!row?.id) return { status: "missing" };
  if (!row.open) return { status: "closed", sessionId: row.id };
  if (row.dup_first != null) {
    const [first, last] = [Number(row.dup_first), Number(row.dup_last)];
    return { status: "appended", sessionId: row.id, ack: { firstSeqNum: first, lastSeqNum: last, tailSeqNum: Number(row.dup_tail) }, deduplicated: true };
  }
  if (row.tail === null) return undefined;
  const tail = Number(row.tail);
  const ack = { firstSeqNum: tail - count, lastSeqNum: tail - 1, tailSeqNum: tail, timestamp: row.at };
  return { status: "appended", sessionId: row.id, ack, deduplicated: false };
}

/**
 * Channels in the service's own database: the embedded default, and self-hosting without S2.
 * SeqNums are dense from 0; the channel row, locked by the writer, hands them out.
 */
export class LocalStreamStore implements StreamStore {
  readonly backend = "local";

  private batched = groupCommit((items: readonly PendingAppend[]) => this.appendBatch(items), { maxBatch: 64, concurrency: 4 });
  private readonly caps: StorageCaps;

  constructor(
    private sql: Sql,
    options: LocalStreamStoreOptions = {},
  ) {
    this.caps = options.caps ?? storageCaps(limits);
  }

  /** The cap that refused an item, when a row of either statement says so. */
  private refusal(row: AppendRow | undefined, item: PendingAppend): StorageFullError | undefined {
    if (!row?.id || !row.open || row.tail !== null) return undefined;
    const { perSession, perEnvironment } = this.caps;
    if (row.env_room === false && perEnvironment !== null) return new StorageFullError("environment", row.id, item.session.environmentId, perEnvironment, item.bytes);
    if (row.full && perSession !== null) return new StorageFullError("session", row.id, item.session.environmentId, perSession, item.bytes);
    return undefined;
  }

  /** Small appends without an idempotency key go out together (group commit); the others alone. */
  append({ session, io, records, matchSeqNum, idempotencyKey }: AppendRequest): Promise<AppendOutcome> {
    const item = { session, io, count: records.data.length, matchSeqNum, idempotencyKey, json: storableJson(records), bytes: records.bytes };
    return idempotencyKey !== undefined || item.json.length > BATCH_ITEM_BYTES ? this.appendAlone(item) : this.batched(item);
  }

  private async appendAlone(item: PendingAppend): Promise<AppendOutcome> {
    const { session, io, count, matchSeqNum, idempotencyKey, json, bytes } = item;
    const statement = isSessionId(session.ref) ? appendById : appendByExternalId;
    const params = [session.environmentId, session.ref, io, count, matchSeqNum ?? null, json, bytes, this.caps.perSession, this.caps.perEnvironment];
    const ttl = appendLimits.idempotencyKeyTtlMs;
    let row: AppendRow | undefined;
    for (let run = 1; ; run++) {
      try {
        [row] = await this.sql.query<AppendRow>(statement, [...params, idempotencyKey ?? null, ttl]);
        break;
      } catch (error) {
        if (idempotencyKey === undefined || !isUniqueViolation(error) || run === KEYED_APPEND_RUNS) throw error;
        // The key's row was there after all: a concurrent append's (found by the next run), or a forgotten one's.
        await this.sql.query(forgetKey, [session.environmentId, session.ref, io, idempotencyKey, ttl]);
      }
    }
    const outcome = appendOutcome(row, count);
    if (outcome) return outcome;
    const refused = this.refusal(row, item);
    if (refused) throw refused;
    // No tail for an open session with room in its environment: matchSeqNum missed, or the session
    // cap refused it. Without matchSeqNum only the cap can; with it, a tail that matches says the
    // same (a refused append costs this one more read; an accepted one never does).
    const sessionId = row!.id!;
    const { perSession } = this.caps;
    if (perSession !== null && matchSeqNum === undefined) throw new StorageFullError("session", sessionId, session.environmentId, perSession, bytes);
    const tail = await this.tail({ sessionId, io });
    if (perSession !== null && tail === matchSeqNum) throw new StorageFullError("session", sessionId, session.environmentId, perSession, bytes);
    throw seqNumMismatch(matchSeqNum ?? -1, tail);
  }

  private async appendBatch(items: readonly PendingAppend[]): Promise<(AppendOutcome | Error)[]> {
    const settle = (item: PendingAppend) => this.appendAlone(item).catch((error: Error) => error);
    if (items.length === 1) return [await settle(items[0]!)];
    const request = items.map(({ session, io, count, matchSeqNum, json, bytes }, i) => {
      const byId = isSessionId(session.ref);
      return `{"i":${i},"env":${JSON.stringify(session.environmentId)},"${byId ? "sid" : "ext"}":${JSON.stringify(session.ref)},"io":"${io}","n":${count},"b":${bytes},"match":${matchSeqNum ?? null},"data":${json}}`;
    });
    let rows: (AppendRow & { i: number })[];
    try {
      rows = await this.sql.query(batchAppend, [`[${request.join(",")}]`, this.caps.perSession, this.caps.perEnvironment]);
    } catch {
      // One bad item fails the statement for all: alone, each gets its own answer.
      return Promise.all(items.map(settle));
    }
    const byIndex = new Map(rows.map((r) => [r.i, r]));
    return Promise.all(
      items.map((item, i) => {
        const row = byIndex.get(i);
        return appendOutcome(row, item.count) ?? this.refusal(row, item) ?? settle(item);
      }),
    );
  }

  async read({ sessionId, io }: ChannelKey, fromSeqNum: number, limit: number, maxBytes?: number): Promise<StoredRecord[]> {
    if (maxBytes !== undefined && Number.isFinite(maxBytes) && limit > 1) {
      const capped = await this.sql.query<{ seq_num: string | bigint | null; timestamp: Date; json: string; head: string | bigint }>(readRecordsCapped, [
        sessionId,
        io,
        fromSeqNum,
        limit,
        Math.max(0, Math.floor(maxBytes)),
      ]);
      return fromHead(capped, fromSeqNum).map((r) => ({ seqNum: Number(r.seq_num), timestamp: r.timestamp, data: JSON.parse(r.json) as unknown }));
    }
    const rows = await this.sql.query<{ seq_num: string | bigint | null; timestamp: Date; data: unknown; head: string | bigint }>(readRecords, [sessionId, io, fromSeqNum, limit]);
    return fromHead(rows, fromSeqNum).map((r) => ({ seqNum: Number(r.seq_num), timestamp: r.timestamp, data: r.data }));
  }

  async tail({ sessionId, io }: ChannelKey): Promise<number> {
    const [row] = await this.sql.query<{ tail_seq_num: string | bigint }>(readTail, [sessionId, io]);
    return row ? Number(row.tail_seq_num) : 0;
  }

  async head({ sessionId, io }: ChannelKey): Promise<number> {
    const [row] = await this.sql.query<{ head_seq_num: string | bigint }>(readHead, [sessionId, io]);
    return row ? Number(row.head_seq_num) : 0;
  }

  async trim({ sessionId, io }: ChannelKey, beforeSeqNum: number): Promise<TrimResult> {
    const [moved] = await this.sql.query<{ previous: string | bigint; head: string | bigint }>(moveHead, [sessionId, io, beforeSeqNum]);
    // No channel row: nothing was ever appended, the head is the tail, 0.
    if (!moved) return { previousHead: 0, head: 0 };
    const head = Number(moved.head);
    await this.deleteBatches(sessionId, io, head);
    return { previousHead: Number(moved.previous), head };
  }

  private async deleteBatches(sessionId: string, io: SessionIO, below: number) {
    for (;;) {
      const [row] = await this.sql.query<{ n: number }>(deleteBelow, [sessionId, io, below, DELETE_BATCH]);
      if ((row?.n ?? 0) < DELETE_BATCH) return;
    }
  }

  async seqNumAt(channel: ChannelKey, time: Date): Promise<number> {
    const [row] = await this.sql.query<{ seq_num: string | bigint }>(firstSince, [channel.sessionId, channel.io, time]);
    return row ? Number(row.seq_num) : this.tail(channel);
  }

  /** Every record of both channels, in batches; the channel rows go with the session row (or here). */
  async deleteChannels(sessionId: string): Promise<void> {
    for (const { io } of channelsOf(sessionId)) await this.deleteBatches(sessionId, io, Number.MAX_SAFE_INTEGER);
    await this.sql.query(`DELETE FROM channels WHERE session_id = $1`, [sessionId]);
  }

  /** No tokens are handed out for the local store, so none to revoke. */
  async revokeAccess() {}

  async access(channel: ChannelKey) {
    return { backend: this.backend, stream: streamName(channel) };
  }
}
