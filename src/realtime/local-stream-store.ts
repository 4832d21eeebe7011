import { Prisma } from "../generated/prisma/client.js";
import type { Sql } from "../db/database.js";
import { ApiError } from "../errors.js";
import { isSessionId } from "../sessions/ids.js";
import {
  streamName,
  type AppendTransaction,
  type ChannelKey,
  type GuardedAppend,
  type SessionIO,
  type SessionRef,
  type StoredRecord,
  type StreamStore,
} from "./stream-store.js";

export const seqNumMismatch = (expected: number, tail: number) =>
  new ApiError("SEQ_NUM_MISMATCH", `matchSeqNum ${expected} is not the channel's tail ${tail}`, { tailSeqNum: tail });

/**
 * One statement, so one implicit transaction: find the session by the client's name for it and
 * hold it FOR SHARE (a close waits for it), upsert the channel row (appends to the channel queue
 * behind its lock), then insert the records. $1 environment, $2 session name, $3 io, $4 record
 * count, $5 matchSeqNum or null, $6 the records as a JSON array. The timestamp column keeps
 * milliseconds, so the one reported is cut the same way.
 */
const guardedAppend = (sessionColumn: "id" | "external_id") => `
  WITH s AS (
    SELECT id, closed_at IS NULL AS open FROM sessions
    WHERE environment_id = $1 AND ${sessionColumn} = $2 FOR SHARE
  ), ch AS (
    INSERT INTO channels AS c (session_id, io, tail_seq_num)
    SELECT s.id, $3, $4::bigint FROM s
    WHERE s.open AND ($5::bigint IS NULL OR $5::bigint = 0
      OR EXISTS (SELECT 1 FROM channels WHERE session_id = s.id AND io = $3))
    ON CONFLICT (session_id, io) DO UPDATE SET tail_seq_num = c.tail_seq_num + $4::bigint
      WHERE $5::bigint IS NULL OR c.tail_seq_num = $5::bigint
    RETURNING session_id, tail_seq_num
  ), ins AS (
    INSERT INTO channel_records (session_id, io, seq_num, timestamp, data)
    SELECT ch.session_id, $3, ch.tail_seq_num - $4::bigint + r.ord - 1, now(), r.d
    FROM ch, jsonb_array_elements($6::jsonb) WITH ORDINALITY AS r(d, ord)
    RETURNING 1
  )
  SELECT s.id, s.open, (SELECT tail_seq_num FROM ch) AS tail, now()::timestamptz(3) AS at,
    (SELECT count(*) FROM ins) AS inserted
  FROM s`;
const appendById = guardedAppend("id");
const appendByExternalId = guardedAppend("external_id");

/**
 * Channels in the service's own database: the embedded default, and self-hosting without S2.
 * SeqNums are dense from 0; the channel row, locked by the writer, hands them out.
 */
export class LocalStreamStore implements StreamStore {
  readonly backend = "local";

  constructor(private sql: Sql) {}

  async append(tx: AppendTransaction, { sessionId, io }: ChannelKey, data: unknown[], matchSeqNum?: number) {
    const channel = await tx.channel.findUniqueOrThrow({ where: { sessionId_io: { sessionId, io } } });
    const first = Number(channel.tailSeqNum);
    if (matchSeqNum !== undefined && matchSeqNum !== first) throw seqNumMismatch(matchSeqNum, first);
    const timestamp = new Date();
    await tx.channelRecord.createMany({
      data: data.map((d, i) => ({ sessionId, io, seqNum: BigInt(first + i), timestamp, data: d === null ? Prisma.JsonNull : (d as Prisma.InputJsonValue) })),
    });
    const tail = first + data.length;
    await tx.channel.update({ where: { sessionId_io: { sessionId, io } }, data: { tailSeqNum: BigInt(tail) } });
    return { firstSeqNum: first, lastSeqNum: tail - 1, tailSeqNum: tail, timestamp };
  }

  async appendGuarded({ environmentId, ref }: SessionRef, io: SessionIO, data: unknown[], matchSeqNum?: number): Promise<GuardedAppend> {
    const n = data.length;
    const [row] = await this.sql.query<{ id: string; open: boolean; tail: string | bigint | null; at: Date }>(
      isSessionId(ref) ? appendById : appendByExternalId,
      [environmentId, ref, io, n, matchSeqNum ?? null, JSON.stringify(data)],
    );
    if (!row) return { status: "missing" };
    if (!row.open) return { status: "closed", sessionId: row.id };
    if (row.tail === null) throw seqNumMismatch(matchSeqNum ?? -1, await this.tail({ sessionId: row.id, io }));
    const tail = Number(row.tail);
    return { status: "appended", sessionId: row.id, ack: { firstSeqNum: tail - n, lastSeqNum: tail - 1, tailSeqNum: tail, timestamp: row.at } };
  }

  async read({ sessionId, io }: ChannelKey, fromSeqNum: number, limit: number): Promise<StoredRecord[]> {
    const rows = await this.sql.query<{ seq_num: string | bigint; timestamp: Date; data: unknown }>(
      `SELECT seq_num, timestamp, data FROM channel_records
       WHERE session_id = $1 AND io = $2 AND seq_num >= $3 ORDER BY seq_num LIMIT $4`,
      [sessionId, io, fromSeqNum, limit],
    );
    return rows.map((r) => ({ seqNum: Number(r.seq_num), timestamp: r.timestamp, data: r.data }));
  }

  async tail({ sessionId, io }: ChannelKey): Promise<number> {
    const [row] = await this.sql.query<{ tail_seq_num: string | bigint }>(
      "SELECT tail_seq_num FROM channels WHERE session_id = $1 AND io = $2",
      [sessionId, io],
    );
    return row ? Number(row.tail_seq_num) : 0;
  }

  async access(channel: ChannelKey) {
    return { backend: this.backend, stream: streamName(channel) };
  }
}
