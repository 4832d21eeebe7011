import type { ListPage, ListQuery } from "./list-query.js";
import type { Session } from "./session-store.js";

/**
 * Lists, counts and tags of an environment's sessions. Postgres serves them in the embedded
 * default; ClickHouse (fed by replication) at scale. Both give the same answers to the same query.
 */
export interface SessionsRepository {
  list(environmentId: string, query: ListQuery): Promise<ListPage<Session>>;
  count(environmentId: string, query: ListQuery): Promise<number>;
  tags(environmentId: string, search: string | undefined, limit: number): Promise<string[]>;
}
