import type { Redis } from "ioredis";
import { channelKey, type ChannelKey } from "../channels/index.js";
import type { PendingIndex } from "./pending-index.js";

const PREFIX = "sessions:waitpoints:";
/** Present while the index is complete; a flush removes it, and drains then report "lost". */
const SENTINEL = `${PREFIX}complete`;

// A sorted set per channel, scored by each waitpoint's deadline. The key lives as long as its
// longest waiter: PEXPIREAT to the highest score, so a short waiter never cuts a long one short.
const ADD = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1`;

const DRAIN = `
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return ids`;

export class RedisPendingIndex implements PendingIndex {
  constructor(private redis: Redis) {
    redis.defineCommand("waitpointAdd", { numberOfKeys: 1, lua: ADD });
    redis.defineCommand("waitpointDrain", { numberOfKeys: 2, lua: DRAIN });
  }

  async add(channel: ChannelKey, waitpointId: string, timeoutAt: Date) {
    await (this.redis as unknown as Commands).waitpointAdd(PREFIX + channelKey(channel), timeoutAt.getTime(), waitpointId);
  }

  async drain(channel: ChannelKey, now: Date): Promise<string[] | "lost"> {
    const ids = await (this.redis as unknown as Commands).waitpointDrain(PREFIX + channelKey(channel), SENTINEL, now.getTime());
    return ids ?? "lost";
  }

  async markRebuilt() {
    await this.redis.set(SENTINEL, "1");
  }

  async close() {}
}

interface Commands {
  waitpointAdd(key: string, score: number, member: string): Promise<number>;
  waitpointDrain(key: string, sentinel: string, now: number): Promise<string[] | null>;
}
