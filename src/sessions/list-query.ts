import { z } from "zod";
import { parseDuration } from "../duration.js";
import { badInput } from "../errors/index.js";
import { limits } from "../limits.js";
import { decodeCursor, type ListCursor } from "./cursor.js";
import { inDateRange } from "./date-range.js";
import type { SessionStatus } from "./status.js";

/** A validated list request, the same for every SessionsRepository. */
export interface ListQuery {
  filter: {
    types?: string[];
    tags?: string[];
    taskIdentifiers?: string[];
    externalId?: string;
    statuses?: SessionStatus[];
    from?: Date;
    to?: Date;
  };
  direction: "forward" | "backward";
  limit: number;
  cursor?: ListCursor;
  now: Date;
}

export interface ListPage<Row> {
  rows: Row[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

const pageSize = z
  .number()
  .int()
  .min(1, "first/last must be between 1 and 100")
  .max(limits.pageSizeMax, "first/last must be between 1 and 100");

export interface ListArgs {
  filter?: {
    types?: string[] | null;
    tags?: string[] | null;
    taskIdentifiers?: string[] | null;
    externalId?: string | null;
    statuses?: SessionStatus[] | null;
    period?: string | null;
    from?: Date | null;
    to?: Date | null;
  } | null;
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export function toListQuery(args: ListArgs, now = new Date()): ListQuery {
  const f = args.filter ?? {};
  if (args.first != null && args.last != null) throw badInput("pass first or last, not both");
  if (args.after != null && args.before != null) throw badInput("pass after or before, not both");
  const backward = args.last != null || (args.before != null && args.first == null);
  const size = pageSize.safeParse(backward ? (args.last ?? limits.pageSizeDefault) : (args.first ?? limits.pageSizeDefault));
  if (!size.success) throw badInput(size.error.issues[0]!.message);
  const cursorText = backward ? args.before : args.after;

  let from = f.from ?? undefined;
  let to = f.to ?? undefined;
  if (f.period != null && !from && !to) {
    const ms = parseDuration(f.period);
    if (ms === undefined) throw badInput(`period must be a duration like "30m", "6h" or "7d"`);
    from = new Date(now.getTime() - ms);
  }
  if (from && !inDateRange(from)) throw badInput("period reaches back too far");
  if (from && to && from > to) throw badInput("from must not be after to");
  for (const name of ["types", "tags", "taskIdentifiers", "statuses"] as const) {
    // Each entry becomes a query parameter: a long list would fail in the database, not here.
    if ((f[name]?.length ?? 0) > limits.filterListLength) throw badInput(`filter.${name} holds at most ${limits.filterListLength} entries`);
  }
  const nonEmpty = <T>(xs: T[] | null | undefined) => (xs && xs.length > 0 ? xs : undefined);
  return {
    filter: {
      types: nonEmpty(f.types),
      tags: nonEmpty(f.tags),
      taskIdentifiers: nonEmpty(f.taskIdentifiers),
      externalId: f.externalId ?? undefined,
      statuses: nonEmpty(f.statuses),
      from,
      to,
    },
    direction: backward ? "backward" : "forward",
    limit: size.data,
    cursor: cursorText != null ? decodeCursor(cursorText) : undefined,
    now,
  };
}
