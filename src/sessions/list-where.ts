import type { Prisma } from "../generated/prisma/client.js";
import type { ListQuery } from "./list-query.js";
import type { SessionStatus } from "./status.js";

type Where = Prisma.SessionWhereInput;

function statusWhere(status: SessionStatus, now: Date): Where {
  switch (status) {
    case "CLOSED":
      return { closedAt: { not: null } };
    case "EXPIRED":
      return { closedAt: null, expiresAt: { lte: now } };
    case "ACTIVE":
      return { closedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
  }
}

/** A list query's filter as a Prisma condition: the PostgreSQL repository's, and the check of ClickHouse's candidates. */
export function listWhere(environmentId: string, { filter, now }: ListQuery): Where {
  return {
    environmentId,
    ...(filter.types && { type: { in: filter.types } }),
    ...(filter.tags && { tags: { hasSome: filter.tags } }),
    ...(filter.taskIdentifiers && { taskIdentifier: { in: filter.taskIdentifiers } }),
    ...(filter.externalId !== undefined && { externalId: filter.externalId }),
    ...((filter.from || filter.to) && { createdAt: { ...(filter.from && { gte: filter.from }), ...(filter.to && { lte: filter.to }) } }),
    ...(filter.statuses && { AND: [{ OR: filter.statuses.map((s) => statusWhere(s, now)) }] }),
  };
}
