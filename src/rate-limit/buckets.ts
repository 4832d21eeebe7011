import type { Redis } from "ioredis";
import type { Rate } from "../limits.js";

/** The answer of one take: allowed, or when the next request would be. */
export interface Take {
  allowed: boolean;
  /** 0 when allowed; otherwise how long until a token is back. */
  retryAfterMs: number;
}

/** Token buckets by key: each take removes one token, refilled continuously at `rate`. */
export interface Buckets {
  take(key: string, rate: Rate, now: number): Promise<Take>;
}

interface Bucket {
  tokens: number;
  at: number;
}

function refill(bucket: Bucket | undefined, rate: Rate, now: number): Bucket {
  if (!bucket) return { tokens: rate.burst, at: now };
  // A clock that went back refills nothing rather than draining the bucket.
  const elapsed = Math.max(0, now - bucket.at);
  return { tokens: Math.min(rate.burst, bucket.tokens + (elapsed * rate.burst) / rate.perMs), at: Math.max(now, bucket.at) };
}

function takeFrom(bucket: Bucket, rate: Rate): Take {
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return { allowed: true, retryAfterMs: 0 };
  }
  return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * rate.perMs) / rate.burst) };
}

export interface MemoryBucketsOptions {
  /** Buckets kept; past this the least recently used are dropped (they were full or nearly). Default 100,000. */
  maxKeys?: number;
}

/** In this process: for a single node, or when there is no Redis. */
export class MemoryBuckets implements Buckets {
  private buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(options: MemoryBucketsOptions = {}) {
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  async take(key: string, rate: Rate, now: number): Promise<Take> {
    const bucket = refill(this.buckets.get(key), rate, now);
    // Deleted and set again: Map order is then least recently used first.
    this.buckets.delete(key);
    if (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    this.buckets.set(key, bucket);
    return takeFrom(bucket, rate);
  }
}

/**
 * The same bucket as one Lua script, so a take is atomic across every node sharing the Redis.
 * The caller's clock is used (injectable in tests); nodes' clocks only need to agree roughly, and
 * one that lags refills nothing. Buckets expire once they would be full again.
 */
const TAKE_LUA = `
local burst = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1])
local at = tonumber(stored[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
elseif now > at then
  tokens = math.min(burst, tokens + (now - at) * burst / perMs)
  at = now
end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * perMs / burst)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(perMs) + 1000)
return {allowed, retry}
`;

type BucketRedis = Redis & {
  sessionsTakeToken(key: string, burst: number, perMs: number, now: number): Promise<[number, number]>;
};

/** In Redis (REDIS_URL): the limits hold across every node, not per node. */
export class RedisBuckets implements Buckets {
  private redis: BucketRedis;

  constructor(
    redis: Redis,
    /** Prefix of the bucket keys. Default "sessions:ratelimit:". */
    private prefix = "sessions:ratelimit:",
  ) {
    // defineCommand sends the script once and then calls it by its SHA.
    redis.defineCommand("sessionsTakeToken", { numberOfKeys: 1, lua: TAKE_LUA });
    this.redis = redis as BucketRedis;
  }

  async take(key: string, rate: Rate, now: number): Promise<Take> {
    const [allowed, retryAfterMs] = await this.redis.sessionsTakeToken(this.prefix + key, rate.burst, rate.perMs, now);
    return { allowed: allowed === 1, retryAfterMs };
  }
}
