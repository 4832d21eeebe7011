import type { ClickHouseClient } from "@clickhouse/client";
import { toClickHouseTime } from "../db/index.js";
import type { ListPage, ListQuery } from "./list-query.js";
import { listWhere } from "./list-where.js";
import type { Session, SessionStore } from "./session-store.js";
import type { SessionsRepository } from "./sessions-repository.js";
import type { SessionStatus } from "./status.js";

type Params = Record<string, unknown>;

// Versions of a row never span partitions (the partition key, the creation month, never changes),
// so FINAL may merge each partition on its own, in parallel and without a global merge.
const finalSettings = { do_not_merge_across_partitions_select_final: 1 } as const;

const statusSql: Record<SessionStatus, string> = {
  CLOSED: "closed_at IS NOT NULL",
  EXPIRED: "closed_at IS NULL AND expires_at <= {now:DateTime64(3, 'UTC')}",
  ACTIVE: "closed_at IS NULL AND (expires_at IS NULL OR expires_at > {now:DateTime64(3, 'UTC')})",
};

/** WHERE clause and parameters for a list query; values only ever travel as query parameters. */
function where(environmentId: string, { filter, now }: ListQuery): { sql: string; params: Params } {
  const conditions = ["environment_id = {environmentId:String}"];
  const params: Params = { environmentId, now: toClickHouseTime(now) };
  if (filter.types) (conditions.push("type IN {types:Array(String)}"), (params.types = filter.types));
  if (filter.tags) (conditions.push("hasAny(tags, {tags:Array(String)})"), (params.tags = filter.tags));
  if (filter.taskIdentifiers) (conditions.push("task_identifier IN {taskIdentifiers:Array(String)}"), (params.taskIdentifiers = filter.taskIdentifiers));
  if (filter.externalId !== undefined) (conditions.push("external_id = {externalId:String}"), (params.externalId = filter.externalId));
  if (filter.from) (conditions.push("created_at >= {from:DateTime64(3, 'UTC')}"), (params.from = toClickHouseTime(filter.from)));
  if (filter.to) (conditions.push("created_at <= {to:DateTime64(3, 'UTC')}"), (params.to = toClickHouseTime(filter.to)));
  if (filter.statuses) conditions.push(`(${filter.statuses.map((s) => `(${statusSql[s]})`).join(" OR ")})`);
  return { sql: conditions.join(" AND "), params };
}

/**
 * Lists from ClickHouse's sessions_v1 (fed by replication). ClickHouse finds the candidates for a
 * page, in order; PostgreSQL confirms which still match and supplies their contents, so a page
 * always shows each session's current state (read-your-writes for every row it lists).
 */
export class ClickHouseSessionsRepository implements SessionsRepository {
  constructor(
    private clickhouse: ClickHouseClient,
    private sessions: SessionStore,
  ) {}

  async list(environmentId: string, query: ListQuery): Promise<ListPage<Session>> {
    const forward = query.direction === "forward";
    const order = forward ? "DESC" : "ASC";
    const w = where(environmentId, query);
    const want = query.limit + 1;
    const confirm = listWhere(environmentId, query);
    const page: Session[] = [];
    let cursor = query.cursor && { at: toClickHouseTime(query.cursor.createdAt), id: query.cursor.id };
    // Candidates in order without FINAL: every version of a session sits at the same (created_at,
    // session_id), so reading in key order is cheap and any version matching the filter makes a
    // candidate. PostgreSQL, the source of truth, then keeps those that match now; when that drops
    // some, the next candidates fill the page.
    for (let exhausted = false; page.length < want && !exhausted; ) {
      const params: Params = { ...w.params, limit: want };
      let sql = w.sql;
      if (cursor) {
        sql += ` AND (created_at, session_id) ${forward ? "<" : ">"} ({cursorAt:DateTime64(3, 'UTC')}, {cursorId:String})`;
        params.cursorAt = cursor.at;
        params.cursorId = cursor.id;
      }
      const result = await this.clickhouse.query({
        // Versions of a session come out adjacent; they are folded here, since LIMIT BY would
        // cost ClickHouse its early stop when reading in key order.
        query: `SELECT session_id, toString(created_at) AS at FROM sessions_v1 WHERE ${sql}
                ORDER BY created_at ${order}, session_id ${order} LIMIT {limit:UInt32}`,
        query_params: params,
        format: "JSONEachRow",
      });
      const candidates = await result.json<{ session_id: string; at: string }>();
      exhausted = candidates.length < want;
      if (candidates.length === 0) break;
      const last = candidates.at(-1)!;
      cursor = { at: last.at, id: last.session_id };
      const ids = [...new Set(candidates.map((c) => c.session_id))];
      const current = new Map((await this.sessions.findMany(environmentId, ids, confirm)).map((s) => [s.id, s]));
      for (const id of ids) if (current.has(id)) page.push(current.get(id)!);
    }
    const more = page.length > query.limit;
    const rows = page.slice(0, query.limit);
    if (!forward) rows.reverse();
    return {
      rows,
      hasNextPage: forward ? more : query.cursor !== undefined,
      hasPreviousPage: forward ? query.cursor !== undefined : more,
    };
  }

  async count(environmentId: string, query: ListQuery): Promise<number> {
    const w = where(environmentId, query);
    const result = await this.clickhouse.query({
      query: `SELECT count() AS n FROM sessions_v1 FINAL WHERE ${w.sql}`,
      query_params: w.params,
      format: "JSONEachRow",
      clickhouse_settings: finalSettings,
    });
    const [row] = await result.json<{ n: string | number }>();
    return Number(row?.n ?? 0);
  }

  async tags(environmentId: string, search: string | undefined, limit: number): Promise<string[]> {
    const result = await this.clickhouse.query({
      query: `SELECT DISTINCT arrayJoin(tags) AS tag FROM sessions_v1 FINAL
              WHERE environment_id = {environmentId:String}
              HAVING positionCaseInsensitiveUTF8(tag, {search:String}) > 0
              ORDER BY tag LIMIT {limit:UInt32}`,
      query_params: { environmentId, search: search ?? "", limit },
      format: "JSONEachRow",
    });
    return (await result.json<{ tag: string }>()).map((r) => r.tag);
  }
}
