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

  count(environmentId: string, query: ListQuery): Promise<number> {
    return this.prisma.session.count({ where: listWhere(environmentId, query) });
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
