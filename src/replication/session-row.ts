import { toClickHouseTime } from "../db/index.js";
/** A row of ClickHouse's sessions_v1, as JSONEachRow. */
export interface ClickHouseSessionRow {
  environment_id: string;
  session_id: string;
  external_id: string | null;
  type: string;
  task_identifier: string | null;
  tags: string[];
  closed_at: string | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  /** The commit LSN as a decimal string: UInt64 does not fit a JSON number. */
  _version: string;
  _is_deleted: 0 | 1;
}


function time(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(String(value).replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"));
  if (Number.isNaN(date.getTime())) throw new Error(`unreadable timestamp ${String(value)}`);
  return toClickHouseTime(date);
}

function textArray(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (value === null || value === undefined) return [];
  throw new Error(`unreadable text[] ${String(value)}`);
}

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** Maps a replicated `sessions` row (pgoutput, column names as in PostgreSQL) to a ClickHouse row. */
export function toClickHouseRow(row: Record<string, unknown>, version: bigint, deleted: boolean): ClickHouseSessionRow {
  return {
    environment_id: String(row.environment_id),
    session_id: String(row.id),
    external_id: text(row.external_id),
    type: String(row.type),
    task_identifier: text(row.task_identifier),
    tags: textArray(row.tags),
    closed_at: time(row.closed_at),
    expires_at: time(row.expires_at),
    created_at: time(row.created_at)!,
    updated_at: time(row.updated_at)!,
    _version: version.toString(),
    _is_deleted: deleted ? 1 : 0,
  };
}
