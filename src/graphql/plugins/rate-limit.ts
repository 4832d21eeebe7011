import { getOperationAST, type DocumentNode, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ApiError } from "../../errors/index.js";
import type { Limits, Rate, RefusalReason } from "../../limits.js";
import { MemoryBuckets, RedisBuckets, type Buckets } from "../../rate-limit/index.js";
import type { Services } from "../../services.js";
import type { Context } from "../context.js";

type Kind = "mutations" | "subscribes";

/** What the plugin reads from a context: yoga's own plus what server.ts passes on each transport. */
type RateLimitContext = Partial<Context> & {
  request?: Request;
  req?: IncomingMessage;
  connectionParams?: Record<string, unknown>;
};

export interface RateLimitOptions {
  /** Where the buckets live. Default: Redis when the services have one, this process otherwise. */
  buckets?: Buckets;
  /** The clock, injectable for tests. Default `Date.now`. */
  now?: () => number;
}

interface Check {
  reason: RefusalReason;
  client: string;
  rate: Rate;
  what: string;
}

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 32);

function bearer(ctx: RateLimitContext): string | undefined {
  const header =
    ctx.request?.headers.get("authorization") ??
    (typeof ctx.connectionParams?.authorization === "string" ? ctx.connectionParams.authorization : undefined);
  const token = header?.trim().replace(/^Bearer\s+/i, "").trim();
  return token || undefined;
}

/** The buckets a request of this kind draws from: none for a secret key unless configured. */
function checksFor(limits: Limits, kind: Kind, ctx: RateLimitContext): Check[] {
  const principal = ctx.auth?.principal;
  if (principal?.credential.kind === "secretKey") {
    const rate = kind === "mutations" ? limits.secretKeyMutations : limits.secretKeySubscribes;
    const client = `key:${principal.credential.keyHash.slice(0, 16)}`;
    return rate ? [{ reason: `secret_key_${kind}`, client, rate, what: `${kind} with this secret key` }] : [];
  }
  const checks: Check[] = [];
  const token = principal ? bearer(ctx) : undefined;
  const tokenRate = kind === "mutations" ? limits.tokenMutations : limits.tokenSubscribes;
  if (token && tokenRate) checks.push({ reason: `token_${kind}`, client: `token:${hash(token)}`, rate: tokenRate, what: `${kind} with this token` });
  // The peer's address, not X-Forwarded-For: a header any client can write would let it pick its own bucket.
  const ip = ctx.req?.socket.remoteAddress;
  const ipRate = kind === "mutations" ? limits.ipMutations : limits.ipSubscribes;
  if (ip && ipRate) checks.push({ reason: `ip_${kind}`, client: `ip:${ip}`, rate: ipRate, what: `${kind} from this address` });
  return checks;
}

function kindOf(document: DocumentNode, operationName: string | null | undefined): Kind | undefined {
  const operation = getOperationAST(document, operationName)?.operation;
  return operation === "mutation" ? "mutations" : operation === "subscription" ? "subscribes" : undefined;
}

/**
 * Token-bucket rate limits on mutations and subscribes, per public access token, per client IP
 * (for callers without a secret key) and, when configured, per secret key. Runs before any
 * resolver, so a refused request wrote nothing; it gets RATE_LIMITED with `retryAfterMs`, and the
 * refusal is recorded once (metric and a throttled warn line). Queries are not limited here: the
 * cost limit bounds them.
 */
export function rateLimit(services: Services, options: RateLimitOptions = {}): Plugin {
  const buckets = options.buckets ?? (services.redis ? new RedisBuckets(services.redis) : new MemoryBuckets());
  const now = options.now ?? Date.now;
  let lastStoreError = 0;

  async function refusal(checks: Check[]): Promise<ExecutionResult | undefined> {
    for (const check of checks) {
      let take;
      try {
        take = await buckets.take(`${check.reason}:${check.client}`, check.rate, now());
      } catch (error) {
        // Redis down: let requests through rather than refuse everyone; say so once a minute.
        if (now() - lastStoreError > 60_000) {
          lastStoreError = now();
          services.logger.warn({ err: error }, "rate limit store unavailable: requests are not being limited");
        }
        return undefined;
      }
      if (!take.allowed) {
        const message = `too many ${check.what}: at most ${check.rate.burst} per ${check.rate.perMs / 1000}s; retry in ${Math.ceil(take.retryAfterMs / 1000)}s`;
        services.refusals.record(check.reason, check.client, message);
        // data: null, as subscriptionErrorsWithData gives refused subscriptions: graphql-sse needs the key.
        return { data: null, errors: [new ApiError("RATE_LIMITED", message, { retryAfterMs: take.retryAfterMs })] };
      }
    }
    return undefined;
  }

  /**
   * Nothing to wait for when no bucket applies (a secret key, unless configured): the hook then
   * returns at once, without a promise, on the hottest path there is.
   */
  const limit = (wanted: Kind, args: { document: DocumentNode; operationName?: string | null; contextValue: unknown }, stop: (result: ExecutionResult) => void) => {
    if (kindOf(args.document, args.operationName) !== wanted) return;
    const checks = checksFor(services.limits, wanted, args.contextValue as RateLimitContext);
    if (checks.length === 0) return;
    return refusal(checks).then((refused) => {
      if (refused) stop(refused);
    });
  };

  return {
    onExecute: ({ args, setResultAndStopExecution }) => limit("mutations", args, setResultAndStopExecution),
    onSubscribe: ({ args, setResultAndStopExecution }) => limit("subscribes", args, setResultAndStopExecution),
  };
}
