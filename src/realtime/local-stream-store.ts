import { Prisma, type PrismaClient } from "../generated/prisma/client.js";
import { ApiError } from "../errors.js";
import { streamName, type AppendAck, type AppendTransaction, type ChannelKey, type StoredRecord, type StreamStore } from "./stream-store.js";

export const seqNumMismatch = (expected: number, tail: number) =>
  new ApiError("SEQ_NUM_MISMATCH", `matchSeqNum ${expected} is not the channel's tail ${tail}`, { tailSeqNum: tail });

/**
 * Channels in the service's own database: the embedded default, and self-hosting without S2.
 * SeqNums are dense from 0; the channel row, locked by the writer, hands them out.
 */
export class LocalStreamStore implements StreamStore {
  readonly backend = "local";

  constructor(private prisma: PrismaClient) {}

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
    return { firstSeqNum: first, lastSeqNum: tail - 1, tailSeqNum: tail };
  }

  async appendGuarded({ sessionId, io }: ChannelKey, data: unknown[], matchSeqNum?: number): Promise<AppendAck | undefined> {
    const n = data.length;
    const match = matchSeqNum ?? null;
    // One statement, so one implicit transaction: the session row FOR SHARE (a close waits for
    // it), the channel row's upsert (appends to the channel queue behind it), then the records.
    const [row] = await this.prisma.$queryRaw<{ tail: bigint | null; open: boolean }[]>`
      WITH open AS (
        SELECT id FROM sessions WHERE id = ${sessionId} AND closed_at IS NULL FOR SHARE
      ), ch AS (
        INSERT INTO channels AS c (session_id, io, tail_seq_num)
        SELECT ${sessionId}, ${io}, ${n}::bigint FROM open
        WHERE ${match}::bigint IS NULL OR ${match}::bigint = 0
           OR EXISTS (SELECT 1 FROM channels WHERE session_id = ${sessionId} AND io = ${io})
        ON CONFLICT (session_id, io) DO UPDATE SET tail_seq_num = c.tail_seq_num + ${n}::bigint
          WHERE ${match}::bigint IS NULL OR c.tail_seq_num = ${match}::bigint
        RETURNING tail_seq_num
      ), ins AS (
        INSERT INTO channel_records (session_id, io, seq_num, timestamp, data)
        SELECT ${sessionId}, ${io}, ch.tail_seq_num - ${n}::bigint + r.ord - 1, now(), r.d
        FROM ch, jsonb_array_elements(${JSON.stringify(data)}::jsonb) WITH ORDINALITY AS r(d, ord)
        RETURNING 1
      )
      SELECT (SELECT tail_seq_num FROM ch) AS tail, EXISTS (SELECT 1 FROM open) AS open, (SELECT count(*) FROM ins) AS inserted`;
    if (!row?.open) return undefined;
    if (row.tail === null) throw seqNumMismatch(match ?? -1, await this.tail({ sessionId, io }));
    const tail = Number(row.tail);
    return { firstSeqNum: tail - n, lastSeqNum: tail - 1, tailSeqNum: tail };
  }

  async read({ sessionId, io }: ChannelKey, fromSeqNum: number, limit: number): Promise<StoredRecord[]> {
    const rows = await this.prisma.channelRecord.findMany({
      where: { sessionId, io, seqNum: { gte: BigInt(fromSeqNum) } },
      orderBy: { seqNum: "asc" },
      take: limit,
    });
    return rows.map((r) => ({ seqNum: Number(r.seqNum), timestamp: r.timestamp, data: r.data }));
  }

  async tail({ sessionId, io }: ChannelKey): Promise<number> {
    const channel = await this.prisma.channel.findUnique({ where: { sessionId_io: { sessionId, io } } });
    return channel ? Number(channel.tailSeqNum) : 0;
  }

  async access(channel: ChannelKey) {
    return { backend: this.backend, stream: streamName(channel) };
  }
}
