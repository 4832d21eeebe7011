import { z } from "zod";
import { parseDuration } from "./duration.js";

/**
 * The one table of limits. Every check reads its figure from here (fixed ones straight from
 * `limits`, configurable ones from `resolveLimits(config)`), and the "Limits" table of docs/limits.md is
 * rendered from it (`limitsMarkdown()`, checked by tests/limits.test.ts), so a figure is written once.
 */

/** What a refused client sees: a contract code in `extensions.code`, or an HTTP status for bodies. */
export type LimitError = "BAD_USER_INPUT" | "PAYLOAD_TOO_LARGE" | "RATE_LIMITED" | "HTTP 411" | "HTTP 413" | "none";

/** A token bucket: `burst` requests at once, refilled at `burst` per `perMs`. */
export interface Rate {
  burst: number;
  perMs: number;
}

interface FixedLimit {
  /** What is limited, as the limits table (docs/limits.md) says it. */
  what: string;
  value: number;
  /** How `value` reads in docs/limits.md. */
  unit: "characters" | "bytes" | "entries" | "records" | "ms" | "levels" | "tags" | "scopes" | "sessions" | "waitpoints" | "connections" | "subscriptions" | "reservations" | "cost";
  error: LimitError;
}

interface ConfigurableLimit<V> extends Omit<FixedLimit, "value"> {
  /** The environment variable that overrides the default (parsed in src/config.ts). */
  env: string;
  value: V;
  /** Parses the variable; `null` means unlimited. */
  schema: z.ZodType<V>;
}

type LimitSpec = FixedLimit | ConfigurableLimit<number | null> | ConfigurableLimit<Rate | null>;

const DAY = 86_400_000;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** "120/1m" (120 at once, refilled 120 a minute) or "off"; case-insensitive. */
export const rateSchema = z
  .string()
  .trim()
  .toLowerCase()
  .transform((text, ctx): Rate | null => {
    if (text === "off" || text === "0") return null;
    const m = /^(\d{1,9})\/(.+)$/.exec(text);
    const perMs = m ? parseDuration(m[2]!) : undefined;
    if (!m || perMs === undefined || Number(m[1]) < 1) {
      ctx.addIssue({ code: "custom", message: `a rate is "<requests>/<duration>" like "120/1m", or "off"` });
      return z.NEVER;
    }
    return { burst: Number(m[1]), perMs };
  });

/** A positive whole number, or "off"/"0" for no limit. */
const capSchema = z
  .string()
  .trim()
  .toLowerCase()
  .transform((text, ctx): number | null => {
    if (text === "off" || text === "0") return null;
    if (!/^\d{1,15}$/.test(text)) {
      ctx.addIssue({ code: "custom", message: `a limit is a whole number, or "off"` });
      return z.NEVER;
    }
    return Number(text);
  });

/** A positive whole number of bytes (no "off": a buffer must have a bound). */
const bytesSchema = z
  .string()
  .trim()
  .transform((text, ctx): number => {
    if (!/^\d{1,15}$/.test(text) || Number(text) < 1) {
      ctx.addIssue({ code: "custom", message: "a size in bytes: a whole number above 0" });
      return z.NEVER;
    }
    return Number(text);
  });

/** A duration like "7d" (see parseDuration). */
const durationMsSchema = z.string().transform((text, ctx): number => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `a duration like "30m", "6h" or "7d"` });
    return z.NEVER;
  }
  return ms;
});

/** A duration like "90d" (see parseDuration), or "off"/"0" for none: kept forever. */
const retentionSchema = z
  .string()
  .trim()
  .toLowerCase()
  .transform((text, ctx): number | null => {
    if (text === "off" || text === "0") return null;
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `a duration like "30d" or "12h", or "off"` });
      return z.NEVER;
    }
    return ms;
  });

const rate = (what: string, env: string, value: Rate | null): ConfigurableLimit<Rate | null> => ({
  what,
  env,
  value,
  unit: "entries",
  error: "RATE_LIMITED",
  schema: rateSchema,
});

export const limitTable = {
  // Sessions
  typeLength: { what: "`type`", value: 128, unit: "characters", error: "BAD_USER_INPUT" },
  externalIdLength: { what: "`externalId` (unique per environment, not starting with `session_`)", value: 256, unit: "characters", error: "BAD_USER_INPUT" },
  taskIdentifierLength: { what: "`taskIdentifier`", value: 128, unit: "characters", error: "BAD_USER_INPUT" },
  tagsPerSession: { what: "tags per session (duplicates dropped) or waitpoint", value: 20, unit: "tags", error: "BAD_USER_INPUT" },
  tagLength: { what: "a tag", value: 128, unit: "characters", error: "BAD_USER_INPUT" },
  metadataBytes: { what: "metadata, as JSON", value: 64 * 1024, unit: "bytes", error: "BAD_USER_INPUT" },
  closedReasonLength: { what: "close reason", value: 1024, unit: "characters", error: "BAD_USER_INPUT" },
  maxTtlMs: { what: "`ttl` (`expiresAt` must be in the future)", value: 365 * DAY, unit: "ms", error: "BAD_USER_INPUT" },
  // Lists
  pageSizeMax: { what: "list page (`first`/`last`; default 25)", value: 100, unit: "entries", error: "BAD_USER_INPUT" },
  pageSizeDefault: { what: "list page when `first`/`last` is left out", value: 25, unit: "entries", error: "none" },
  tagPageMax: { what: "`sessionTags(first)` (default 50)", value: 1000, unit: "entries", error: "BAD_USER_INPUT" },
  filterListLength: { what: "entries in one list filter (`types`, `tags`, `taskIdentifiers`, `statuses`)", value: 100, unit: "entries", error: "BAD_USER_INPUT" },
  // Channels
  recordsPerAppend: { what: "records per append (at least 1)", value: 1000, unit: "records", error: "PAYLOAD_TOO_LARGE" },
  recordBytes: { what: "a record, as JSON", value: MiB, unit: "bytes", error: "PAYLOAD_TOO_LARGE" },
  appendBytes: { what: "an append, as JSON", value: MiB, unit: "bytes", error: "PAYLOAD_TOO_LARGE" },
  idempotencyKeyLength: { what: "`idempotencyKey` (appends and waitpoints)", value: 256, unit: "characters", error: "BAD_USER_INPUT" },
  idempotencyKeyTtlMs: { what: "an append's `idempotencyKey` is remembered for", value: DAY, unit: "ms", error: "none" },
  jsonDepth: { what: "nesting of a JSON value (records, metadata)", value: 100, unit: "levels", error: "BAD_USER_INPUT" },
  subscriberBufferRecords: { what: "records waiting for one subscriber (further behind: disconnected)", value: 10_000, unit: "records", error: "RATE_LIMITED" },
  fanoutReadBatch: { what: "records read from the store per catch-up batch", value: 1_000, unit: "records", error: "none" },
  watcherBuffer: { what: "changes waiting for one `session` subscriber", value: 1_000, unit: "entries", error: "RATE_LIMITED" },
  // Waitpoints and tokens
  waitpointTimeoutMs: { what: "waitpoint `timeout`", value: 7 * DAY, unit: "ms", error: "BAD_USER_INPUT" },
  tokenLifetimeMs: { what: "public access token `expiresIn` (default 15m)", value: 30 * DAY, unit: "ms", error: "BAD_USER_INPUT" },
  scopesPerToken: { what: "scopes per public access token", value: 100, unit: "scopes", error: "BAD_USER_INPUT" },
  channelAccessTtlMs: {
    what: "direct channel access (`initializeSessionChannel`'s stream token), when the caller's token and the session's expiry do not end it sooner",
    value: 3_600_000,
    unit: "ms",
    error: "none",
  },
  // Live delivery, connections and reads (src/live/outbox.ts, src/http/ws-guard.ts, src/http/sse-guard.ts, src/graphql/plugins/answer-budget.ts)
  subscriberBufferBytes: {
    what: "bytes of records waiting for one subscriber (further behind: disconnected)",
    env: "LIMIT_SUBSCRIBER_BUFFER_BYTES",
    value: 16 * MiB,
    unit: "bytes",
    error: "RATE_LIMITED",
    schema: bytesSchema,
  },
  connectionBufferBytes: {
    what: "bytes waiting in one connection's write buffer (WebSocket `bufferedAmount`, SSE response) before deliveries wait",
    env: "LIMIT_CONNECTION_BUFFER_BYTES",
    value: 8 * MiB,
    unit: "bytes",
    error: "none",
    schema: bytesSchema,
  },
  stalledConnectionMs: { what: "a connection whose write buffer does not drain for this long is closed", value: 60_000, unit: "ms", error: "RATE_LIMITED" },
  sseKeepAliveMs: { what: "TCP keep-alive probes on an idle event stream start after (graphql-sse also writes a comment every 12s)", value: 30_000, unit: "ms", error: "none" },
  replayBatchBytes: { what: "bytes of records read from the store per catch-up batch (as many records as fit, at least one)", value: 16 * MiB, unit: "bytes", error: "none" },
  answerBytes: { what: "records in one query or mutation answer, as JSON (refused while reading, before the answer is built)", value: 32 * MiB, unit: "bytes", error: "PAYLOAD_TOO_LARGE" },
  // Room for what the contract allows one read to ask: both channels' records at limit 1,000 with
  // every field cost about 6,000. The bytes such answers carry are bounded by answerBytes.
  listCost: { what: "weighted cost of an operation: each field 1, a list field's selection times its `limit`/`first`/`last`", value: 8_000, unit: "cost", error: "BAD_USER_INPUT" },
  sseReservationTtlMs: { what: "an SSE reservation (`PUT /graphql/stream`) not connected within this is dropped", value: 30_000, unit: "ms", error: "none" },
  sseReservationsPerToken: { what: "open SSE reservations per credential (needs one: 401 without)", value: 10, unit: "reservations", error: "RATE_LIMITED" },
  subscriptionsPerConnection: {
    what: "subscriptions on one WebSocket",
    env: "LIMIT_SUBSCRIPTIONS_PER_CONNECTION",
    value: 200,
    unit: "subscriptions",
    error: "RATE_LIMITED",
    schema: capSchema,
  },
  subscriptionsPerToken: {
    what: "open subscriptions per public access token",
    env: "LIMIT_SUBSCRIPTIONS_PER_TOKEN",
    value: 500,
    unit: "subscriptions",
    error: "RATE_LIMITED",
    schema: capSchema,
  },
  subscriptionsPerSecretKey: {
    what: "open subscriptions per secret key",
    env: "LIMIT_SUBSCRIPTIONS_PER_SECRET_KEY",
    value: null,
    unit: "subscriptions",
    error: "RATE_LIMITED",
    schema: capSchema,
  },
  connectionsPerToken: {
    what: "open WebSockets and event streams per public access token",
    env: "LIMIT_CONNECTIONS_PER_TOKEN",
    value: 50,
    unit: "connections",
    error: "RATE_LIMITED",
    schema: capSchema,
  },
  connectionsPerSecretKey: {
    what: "open WebSockets and event streams per secret key",
    env: "LIMIT_CONNECTIONS_PER_SECRET_KEY",
    value: null,
    unit: "connections",
    error: "RATE_LIMITED",
    schema: capSchema,
  },
  connectionsPerIp: {
    what: "open WebSockets and event streams per client IP (WebSockets over it are closed with 1013)",
    env: "LIMIT_CONNECTIONS_PER_IP",
    value: 4_096,
    unit: "connections",
    error: "RATE_LIMITED",
    schema: capSchema,
  },
  // HTTP
  requestBodyBytes: { what: "request body (with `Content-Length`; a chunked body gets 411)", value: 4 * MiB, unit: "bytes", error: "HTTP 413" },
  // Rate limits and quotas (configurable)
  tokenMutations: rate("mutations per public access token", "RATE_LIMIT_TOKEN_MUTATIONS", { burst: 120, perMs: 60_000 }),
  tokenSubscribes: rate("subscribes per public access token", "RATE_LIMIT_TOKEN_SUBSCRIBES", { burst: 60, perMs: 60_000 }),
  ipMutations: rate("mutations per client IP, without a secret key", "RATE_LIMIT_IP_MUTATIONS", { burst: 600, perMs: 60_000 }),
  ipSubscribes: rate("subscribes per client IP, without a secret key", "RATE_LIMIT_IP_SUBSCRIBES", { burst: 300, perMs: 60_000 }),
  secretKeyMutations: rate("mutations per secret key", "RATE_LIMIT_SECRET_KEY_MUTATIONS", null),
  secretKeySubscribes: rate("subscribes per secret key", "RATE_LIMIT_SECRET_KEY_SUBSCRIBES", null),
  pendingWaitpointsPerChannel: {
    what: "pending waitpoints per channel",
    env: "WAITPOINTS_PENDING_PER_CHANNEL",
    value: 100,
    unit: "waitpoints",
    error: "RATE_LIMITED",
    schema: capSchema,
  },
  // Storage (src/channels/storage-caps.ts). PAYLOAD_TOO_LARGE, not RATE_LIMITED: waiting does not
  // make room (only trimming or deleting records will), so a client must not be told to retry.
  storagePerSession: {
    what: "records stored per session, as JSON, both channels together (exact per channel; appends racing on both at once can reach twice this); not `RATE_LIMITED`: waiting frees nothing",
    env: "LIMIT_STORAGE_PER_SESSION",
    value: GiB,
    unit: "bytes",
    error: "PAYLOAD_TOO_LARGE",
    schema: capSchema,
  },
  storagePerEnvironment: {
    what: "records stored per environment, as JSON: soft, against the total the last housekeeping sweep measured (appends between sweeps can pass it); not `RATE_LIMITED`: waiting frees nothing",
    env: "LIMIT_STORAGE_PER_ENVIRONMENT",
    value: 20 * GiB,
    unit: "bytes",
    error: "PAYLOAD_TOO_LARGE",
    schema: capSchema,
  },
  // Retention (src/lifecycle, applied by the sweeper every RETENTION_SWEEP_INTERVAL; docs/retention.md)
  sessionRetentionMs: {
    what: "a closed or expired session is kept after its close or expiry, then deleted with its records and waitpoints",
    env: "SESSION_RETENTION",
    value: null,
    unit: "ms",
    error: "none",
    schema: retentionSchema,
  },
  recordRetentionMs: {
    what: "records are kept (both channels) in sessions created without `recordRetention`, then trimmed",
    env: "RECORD_RETENTION",
    value: null,
    unit: "ms",
    error: "none",
    schema: retentionSchema,
  },
  recordRetentionMaxMs: { what: "`recordRetention` of a session", value: 3650 * DAY, unit: "ms", error: "BAD_USER_INPUT" },
  finishedWaitpointRetentionMs: {
    what: "a finished waitpoint is kept for",
    env: "WAITPOINT_RETENTION",
    value: 7 * DAY,
    unit: "ms",
    error: "none",
    schema: durationMsSchema,
  },
  // Waitpoint callbacks (src/callbacks/)
  callbackUrlLength: { what: "`callbackUrl`", value: 2048, unit: "characters", error: "BAD_USER_INPUT" },
  callbackTimeoutMs: {
    what: "a callback attempt (connecting, the answer and reading its body) is abandoned after",
    env: "CALLBACK_TIMEOUT",
    value: 10_000,
    unit: "ms",
    error: "none",
    schema: durationMsSchema,
  },
  callbackFirstRetryMs: {
    what: "the first retry of a failed callback comes after about this (then doubling, with jitter)",
    env: "CALLBACK_RETRY_FIRST",
    value: 1_000,
    unit: "ms",
    error: "none",
    schema: durationMsSchema,
  },
  callbackMaxRetryMs: {
    what: "the longest wait between two attempts of a callback",
    env: "CALLBACK_RETRY_MAX",
    value: 3_600_000,
    unit: "ms",
    error: "none",
    schema: durationMsSchema,
  },
  callbackGiveUpMs: {
    what: "a callback still failing this long after its waitpoint ended is given up (`FAILED`)",
    env: "CALLBACK_GIVE_UP_AFTER",
    value: DAY,
    unit: "ms",
    error: "none",
    schema: durationMsSchema,
  },
  callbackResponseBytes: { what: "bytes of a callback's answer read (the rest is dropped)", value: 4 * 1024, unit: "bytes", error: "none" },
  callbacksInFlight: { what: "callback attempts in flight per server process (more wait their turn)", value: 32, unit: "connections", error: "none" },
  webhookSecretGraceMs: { what: "a webhook signing secret replaced by `env rotate-webhook-secret` signs alongside the new one for", value: DAY, unit: "ms", error: "none" },
} as const satisfies Record<string, LimitSpec>;

type Table = typeof limitTable;
export type LimitName = keyof Table;
type ConfigurableName = { [K in LimitName]: Table[K] extends { env: string } ? K : never }[LimitName];
type FigureOf<K extends LimitName> = Table[K] extends { schema: z.ZodType } ? z.output<Table[K]["schema"]> : number;

/** Every limit's figure, defaults for the configurable ones: for checks made before config is read. */
export type Limits = { -readonly [K in LimitName]: FigureOf<K> };

export const limits = Object.fromEntries(Object.entries(limitTable).map(([k, spec]) => [k, spec.value])) as Limits;

const configurable = Object.entries(limitTable as Record<string, LimitSpec>).filter(
  (e): e is [ConfigurableName, Extract<LimitSpec, { env: string }>] => "env" in e[1],
);

/** The configurable limits' variables, for src/config.ts: each optional, parsed by its limit's schema. */
export const limitsEnvShape = Object.fromEntries(configurable.map(([, spec]) => [spec.env, spec.schema.optional()])) as {
  [K in ConfigurableName as Table[K]["env"]]: z.ZodOptional<Table[K]["schema"]>;
};

/**
 * The figures in force: defaults overridden by whatever the configuration set. `config` is the
 * parsed configuration (src/config.ts), whose limit variables were parsed by `limitsEnvShape`.
 */
export function resolveLimits(config: object): Limits {
  const resolved: Record<string, unknown> = { ...limits };
  const env = config as Record<string, unknown>;
  for (const [name, spec] of configurable) if (env[spec.env] !== undefined) resolved[name] = env[spec.env];
  return resolved as Limits;
}

/** Why a request was refused, the label of `sessions_limit_refusals_total`. */
export type RefusalReason =
  | "token_mutations"
  | "token_subscribes"
  | "ip_mutations"
  | "ip_subscribes"
  | "secret_key_mutations"
  | "secret_key_subscribes"
  | "pending_waitpoints"
  | "subscriber_buffer"
  | "stalled_connection"
  | "subscriptions_per_connection"
  | "subscriptions_per_token"
  | "connections_per_token"
  | "connections_per_ip"
  | "sse_reservations"
  | "answer_bytes"
  | "list_cost"
  | "session_storage"
  | "environment_storage"
  | (string & {});

function formatFigure(value: number | Rate | null, unit: FixedLimit["unit"]): string {
  // A retention left unset keeps things forever; any other limit left unset is no limit.
  if (value === null) return unit === "ms" ? "forever" : "unlimited";
  if (typeof value === "object") return `${value.burst} at once, refilled ${value.burst} per ${formatMs(value.perMs)}`;
  if (unit === "ms") return formatMs(value);
  if (unit === "bytes") {
    if (value % GiB === 0) return `${value / GiB} GiB`;
    if (value % MiB === 0) return `${value / MiB} MiB`;
    if (value % 1024 === 0) return `${value / 1024} KiB`;
  }
  return `${value.toLocaleString("en-US")} ${unit}`;
}

function formatMs(ms: number): string {
  for (const [unit, size] of [["d", DAY], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** The README's "Limits" table, rendered from `limitTable`. */
export function limitsMarkdown(): string {
  const rows = Object.values(limitTable as Record<string, LimitSpec>).map((spec) => {
    const env = "env" in spec ? `\`${spec.env}\`` : "";
    const error = spec.error === "none" ? "" : spec.error.startsWith("HTTP") ? spec.error : `\`${spec.error}\``;
    return `| ${spec.what} | ${formatFigure(spec.value, spec.unit)} | ${env} | ${error} |`;
  });
  return ["| limit | default | variable | error |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The append path's figures (src/channels/channel-writer.ts). */
export const appendLimits = {
  recordsPerAppend: limits.recordsPerAppend,
  recordBytes: limits.recordBytes,
  appendBytes: limits.appendBytes,
  idempotencyKeyLength: limits.idempotencyKeyLength,
  idempotencyKeyTtlMs: limits.idempotencyKeyTtlMs,
} as const;
