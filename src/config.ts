import { isIP } from "node:net";
import { z } from "zod";
import { parseDuration } from "./duration.js";
import { limitsEnvShape } from "./limits.js";

/**
 * CORS_ORIGINS: `*` (the default) or origins separated by commas, each exactly as a browser sends
 * it in `Origin` (scheme://host[:port], no path or trailing slash).
 */
const corsOriginsSchema = z
  .string()
  .trim()
  .default("*")
  .transform((value, ctx): "*" | string[] => {
    if (value === "*") return "*";
    const origins = value
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean);
    for (const origin of origins) {
      if (URL.canParse(origin) && new URL(origin).origin === origin) continue;
      ctx.addIssue({ code: "custom", message: `"${origin}" is not an origin (scheme://host[:port], no path); give origins separated by commas, or *` });
      return z.NEVER;
    }
    if (origins.length === 0) {
      ctx.addIssue({ code: "custom", message: "give origins separated by commas, or *" });
      return z.NEVER;
    }
    return origins;
  });

const optionalUrl = z.string().trim().min(1).pipe(z.url()).optional();

/**
 * CALLBACK_ALLOWED_HOSTS: host names or addresses separated by commas (no scheme or port; IPv6 with
 * or without brackets), compared case-insensitively with a callback URL's host. Those hosts may be
 * reached over http and at private, loopback and link-local addresses. Default: none.
 */
const allowedHostsSchema = z
  .string()
  .default("")
  .transform((value, ctx): string[] => {
    const hosts = value
      .split(",")
      .map((h) => h.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1"))
      .filter(Boolean);
    for (const host of hosts) {
      if (isIP(host) || /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/.test(host)) continue;
      ctx.addIssue({ code: "custom", message: `"${host}" is not a host name or address; give hosts separated by commas, without scheme or port` });
      return z.NEVER;
    }
    return hosts;
  });

/**
 * S2 cloud's endpoints: the defaults of the S2 SDK (@s2-dev/streamstore: hosts `a.s2.dev` and
 * `{basin}.b.s2.dev`, path `/v1`), which tests/s2-service.test.ts holds these to.
 */
export const S2_CLOUD_ENDPOINTS = { account: "https://a.s2.dev/v1", basin: "https://{basin}.b.s2.dev/v1" } as const;

/**
 * An S2 endpoint: an http(s) URL without query or fragment, as the SDK takes it (without a path it
 * gets `/v1`). Only a basin endpoint may hold `{basin}` (in its host or path), which the SDK
 * replaces with the basin's name.
 */
const s2EndpointSchema = (basinEndpoint: boolean) =>
  z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      if (!basinEndpoint && value.includes("{basin}")) {
        ctx.addIssue({ code: "custom", message: "{basin} belongs in S2_BASIN_ENDPOINT only" });
        return;
      }
      const probe = value.replaceAll("{basin}", "basin");
      const url = URL.canParse(probe) ? new URL(probe) : undefined;
      if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash) {
        ctx.addIssue({ code: "custom", message: `"${value}" is not an http(s) URL without query or fragment` });
      }
    })
    .optional();

/** RETENTION_SWEEP_INTERVAL: a duration (src/duration.ts) from 1s to 1d. */
const sweepIntervalSchema = z.string().transform((text, ctx): number => {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1_000 || ms > 86_400_000) {
    ctx.addIssue({ code: "custom", message: `a duration from 1s to 1d, like "30s" or "5m"` });
    return z.NEVER;
  }
  return ms;
});

/** Environment variables, as documented in OPERATING.md. */
const configSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    HOST: z.string().trim().min(1).default("127.0.0.1"),
    DATA_DIR: z.string().trim().min(1).default("./data"),
    DATABASE_URL: optionalUrl,
    CLICKHOUSE_URL: optionalUrl,
    REDIS_URL: optionalUrl,
    S2_ACCESS_TOKEN: z.string().trim().min(1).optional(),
    S2_BASIN: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{6,46}[a-z0-9]$/, "an S2 basin name is 8-48 of [a-z0-9-], not starting or ending with -")
      .optional(),
    /** S2's API for both the account and the basin (s2-lite, the tests' double); the two below take precedence. */
    S2_ENDPOINT: s2EndpointSchema(false),
    /** Where S2 access tokens are issued and revoked; default S2 cloud's (S2_CLOUD_ENDPOINTS). */
    S2_ACCOUNT_ENDPOINT: s2EndpointSchema(false),
    /** Where the basin's streams are, `{basin}` standing for its name; default S2 cloud's (S2_CLOUD_ENDPOINTS). Also what clients of direct channel access are told. */
    S2_BASIN_ENDPOINT: s2EndpointSchema(true),
    SESSIONS_SECRET_KEY: z
      .string()
      .regex(/^sk_[A-Za-z0-9_-]{32,}$/, "must be sk_ followed by 32 or more letters, digits, _ or -")
      .optional(),
    // Seals the signing keys in the database (src/auth/master-key.ts). 32 bytes: 64 hex digits, or
    // base64 / base64url (`openssl rand -base64 32`). Unset: generated once into DATA_DIR.
    SESSIONS_MASTER_KEY: z
      .string()
      .trim()
      .regex(/^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)$/, "must be 32 bytes: 64 hex digits, or base64 (openssl rand -base64 32)")
      .optional(),
    REPLICATION_ENABLED: z.enum(["0", "1"]).optional(),
    REPLICATION_SLOT: z.string().regex(/^[a-z0-9_]{1,63}$/, "a slot name is 1-63 of [a-z0-9_]").optional(),
    REPLICATION_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(1_000),
    REPLICATION_FLUSH_MS: z.coerce.number().int().min(1).max(60_000).default(100),
    REPLICATION_LEADER_RENEW_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** Origins allowed cross-origin, or `*` (the default); credentials never are (src/http/cors.ts). */
    CORS_ORIGINS: corsOriginsSchema,
    /** `0` turns the GraphiQL page off; default `1`. */
    GRAPHIQL: z.enum(["0", "1"], { message: "must be 0 (off) or 1 (on)" }).default("1"),
    // The configurable limits (rate limits, quotas): their variables and defaults live in src/limits.ts.
    ...limitsEnvShape,
    /** Hosts waitpoint callbacks may reach besides public https ones (OPERATING.md); default none. */
    CALLBACK_ALLOWED_HOSTS: allowedHostsSchema,
    /**
     * Time between sweeps of the one sweeper (src/housekeeping): retention (SESSION_RETENTION,
     * RECORD_RETENTION and each session's recordRetention), expired idempotency keys, old finished
     * waitpoints, expired access grants, storage measurement. Default 60s.
     */
    RETENTION_SWEEP_INTERVAL: sweepIntervalSchema.optional(),
    /** The same interval in milliseconds, the older name: used when RETENTION_SWEEP_INTERVAL is unset. */
    HOUSEKEEPING_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).optional(),
  })
  .refine((c) => !c.S2_ACCESS_TOKEN === !c.S2_BASIN, {
    message: "S2_ACCESS_TOKEN and S2_BASIN must be set together",
    path: ["S2_BASIN"],
  })
  .refine((c) => !c.CLICKHOUSE_URL || c.DATABASE_URL, {
    message: "needs DATABASE_URL too: ClickHouse is fed from PostgreSQL by logical replication",
    path: ["CLICKHOUSE_URL"],
  });

export type Config = z.infer<typeof configSchema> & {
  replicationEnabled: boolean;
  /** S2's endpoints: S2_ACCOUNT_ENDPOINT / S2_BASIN_ENDPOINT, else S2_ENDPOINT, else S2 cloud's. */
  s2Endpoints: { account: string; basin: string };
  /** Time between sweeps: RETENTION_SWEEP_INTERVAL, else HOUSEKEEPING_INTERVAL_MS, else 60 s. */
  sweepIntervalMs: number;
};

export class ConfigError extends Error {}

/** Empty strings count as unset, so `FOO= npm start` behaves like leaving FOO out. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`invalid configuration: ${issue.path.join(".") || "environment"}: ${issue.message}`);
  }
  const c = parsed.data;
  const replicationEnabled = c.REPLICATION_ENABLED
    ? c.REPLICATION_ENABLED === "1"
    : Boolean(c.DATABASE_URL && c.CLICKHOUSE_URL);
  const sweepIntervalMs = c.RETENTION_SWEEP_INTERVAL ?? c.HOUSEKEEPING_INTERVAL_MS ?? 60_000;
  const s2Endpoints = {
    account: c.S2_ACCOUNT_ENDPOINT ?? c.S2_ENDPOINT ?? S2_CLOUD_ENDPOINTS.account,
    basin: c.S2_BASIN_ENDPOINT ?? c.S2_ENDPOINT ?? S2_CLOUD_ENDPOINTS.basin,
  };
  return { ...c, replicationEnabled, sweepIntervalMs, s2Endpoints };
}
