import type { Sql } from "../db/index.js";
import type { ChannelKey, TrimResult } from "./stream-store.js";

const readHead = `SELECT head_seq_num FROM channels WHERE session_id = $1 AND io = $2`;

/**
 * Moves the head to $3 (never back), making the channel row if the channel has none yet (records
 * written straight to S2 make none). The stored bytes shrink in proportion to the seqNums the
 * head passes between it and the tail $4: the service cannot know a trimmed S2 record's size
 * without reading it, and the figure only feeds the storage caps.
 */
const advanceHead = `WITH before AS (SELECT head_seq_num FROM channels WHERE session_id = $1 AND io = $2)
  , moved AS (
    INSERT INTO channels AS c (session_id, io, head_seq_num) VALUES ($1, $2, $3)
    ON CONFLICT (session_id, io) DO UPDATE SET
      head_seq_num = GREATEST(c.head_seq_num, EXCLUDED.head_seq_num),
      stored_bytes = CASE WHEN $4::bigint > c.head_seq_num
        THEN c.stored_bytes * ($4::bigint - LEAST($4::bigint, GREATEST(c.head_seq_num, EXCLUDED.head_seq_num))) / ($4::bigint - c.head_seq_num)
        ELSE c.stored_bytes END
    RETURNING c.head_seq_num)
  SELECT COALESCE((SELECT head_seq_num FROM before), 0) AS previous, (SELECT head_seq_num FROM moved) AS head`;

/**
 * Heads of channels kept in an external store (S2), in the service's own database: the store's
 * trim is a command record it applies in its own time, so whether a read begins below the head
 * is decided here, exactly, before the store is asked.
 */
export class ChannelHeads {
  constructor(private sql: Sql) {}

  async get({ sessionId, io }: ChannelKey): Promise<number> {
    const [row] = await this.sql.query<{ head_seq_num: string | bigint }>(readHead, [sessionId, io]);
    return row ? Number(row.head_seq_num) : 0;
  }

  /** Forgets the heads (and channel rows) of a session whose channels were deleted. */
  async forget(sessionId: string): Promise<void> {
    await this.sql.query(`DELETE FROM channels WHERE session_id = $1`, [sessionId]);
  }

  /** Moves the head forward to `to` (the caller keeps it at or below `tail`); answers the head before and after. */
  async advance({ sessionId, io }: ChannelKey, to: number, tail: number): Promise<TrimResult> {
    const [row] = await this.sql.query<{ previous: string | bigint; head: string | bigint }>(advanceHead, [sessionId, io, to, tail]);
    return { previousHead: Number(row!.previous), head: Number(row!.head) };
  }
}
