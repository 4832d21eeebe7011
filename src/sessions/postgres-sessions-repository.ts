import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import type { ListPage, ListQuery } from "./list-query.js";
import { listWhere } from "./list-where.js";
import type { Session } from "./session-store.js";
import type { SessionsRepository } from "./sessions-repository.js";

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export class PostgresSessionsRepository implements SessionsRepository {
  constructor(private prisma: PrismaClient) {}

  async list(environmentId: string, query: ListQuery): Promise<ListPage<Session>> {
    const forward = query.direction === "forward";
    const c = query.cursor;
    // Keyset paging on (createdAt, id): rows strictly past the cursor in the direction of travel.
    const past = forward ? "lt" : "gt";
    const where: Prisma.SessionWhereInput = {
      ...listWhere(environmentId, query),
      ...(c && { OR: [{ createdAt: { [past]: c.createdAt } }, { createdAt: c.createdAt, id: { [past]: c.id } }] }),
    };
    const order = forward ? "desc" : "asc";
    const rows = await this.prisma.session.findMany({
      where,
      orderBy: [{ createdAt: order }, { id: order }],
      take: query.limit + 1,
    });
    const more = rows.length > query.limit;
    const page = rows.slice(0, query.limit);
    if (!forward) page.reverse();
    return {
      rows: page,
      hasNextPage: forward ? more : c !== undefined,
      hasPreviousPage: forward ? c !== undefined : more,
    };
  }

  async count(environmentId: string, query: ListQuery): Promise<number> {
    if (Object.values(query.filter).some((v) => v !== undefined)) return this.prisma.session.count({ where: listWhere(environmentId, query) });
    // The whole environment: the counts the insert and delete triggers keep, not a walk of its
    // index (migration 20261230000000_session_counts).
    const { _sum } = await this.prisma.sessionCount.aggregate({ where: { environmentId }, _sum: { sessions: true } });
    return Number(_sum.sessions ?? 0n);
  }

  async tags(environmentId: string, search: string | undefined, limit: number): Promise<string[]> {
    const pattern = `%${escapeLike(search ?? "")}%`;
    const rows = await this.prisma.$queryRaw<{ tag: string }[]>`
      SELECT DISTINCT t AS tag FROM sessions, unnest(tags) AS t
      WHERE environment_id = ${environmentId} AND t ILIKE ${pattern}
      ORDER BY tag LIMIT ${limit}`;
    return rows.map((r) => r.tag);
  }
}
