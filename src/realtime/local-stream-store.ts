import { Prisma, type PrismaClient } from "../generated/prisma/client.js";
import { ApiError } from "../errors.js";
import { streamName, type AppendTransaction, type ChannelKey, type StoredRecord, type StreamStore } from "./stream-store.js";

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
