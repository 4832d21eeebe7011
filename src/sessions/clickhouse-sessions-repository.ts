import type { ClickHouseClient } from "@clickhouse/client";
import { toClickHouseTime } from "../replication/session-row.js";
import type { ListPage, ListQuery } from "./list-query.js";
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
 * Lists from ClickHouse's sessions_v1 (fed by replication). ClickHouse decides which sessions
 * are on a page and in what order; their contents are then read from PostgreSQL by id, so a
 * page always shows each session's current state (read-your-writes for every row it lists).
 */
export class ClickHouseSessionsRepository implements SessionsRepository {
  constructor(
    private clickhouse: ClickHouseClient,
    private sessions: SessionStore,
  ) {}

  async list(environmentId: string, query: ListQuery): Promise<ListPage<Session>> {
    const forward = query.direction === "forward";
    const w = where(environmentId, query);
    const params: Params = { ...w.params, limit: query.limit + 1 };
    let sql = w.sql;
    if (query.cursor) {
      sql += ` AND (created_at, session_id) ${forward ? "<" : ">"} ({cursorAt:DateTime64(3, 'UTC')}, {cursorId:String})`;
      params.cursorAt = toClickHouseTime(query.cursor.createdAt);
      params.cursorId = query.cursor.id;
    }
    const order = forward ? "DESC" : "ASC";
    const result = await this.clickhouse.query({
      query: `SELECT session_id FROM sessions_v1 FINAL WHERE ${sql} ORDER BY created_at ${order}, session_id ${order} LIMIT {limit:UInt32}`,
      query_params: params,
      format: "JSONEachRow",
      clickhouse_settings: finalSettings,
    });
    const ids = (await result.json<{ session_id: string }>()).map((r) => r.session_id);
    const more = ids.length > query.limit;
    const pageIds = ids.slice(0, query.limit);
    if (!forward) pageIds.reverse();
    const byId = new Map((await this.sessions.findMany(environmentId, pageIds)).map((s) => [s.id, s]));
    return {
      // A row deleted since replication saw it is dropped rather than shown stale.
      rows: pageIds.map((id) => byId.get(id)).filter((s): s is Session => s !== undefined),
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
