import { channelKey, type ChannelKey } from "../channels/index.js";

/**
 * Which waitpoints wait on which channel, so an append to a channel nobody waits on costs no
 * database query. Each entry keeps its own deadline; an index may lose its contents (a Redis
 * flush), and says so, and then the database answers instead.
 */
export interface PendingIndex {
  add(channel: ChannelKey, waitpointId: string, timeoutAt: Date): Promise<void>;
  /**
   * Removes and returns the channel's unexpired entries in one atomic step, or "lost" when the
   * index no longer knows (it was flushed) and the caller must ask the database.
   */
  drain(channel: ChannelKey, now: Date): Promise<string[] | "lost">;
  /** Marks the index complete again after it was rebuilt from the database. */
  markRebuilt(): Promise<void>;
  close(): Promise<void>;
}

export class MemoryPendingIndex implements PendingIndex {
  private channels = new Map<string, Map<string, number>>();

  async add(channel: ChannelKey, waitpointId: string, timeoutAt: Date) {
    const key = channelKey(channel);
    const entries = this.channels.get(key) ?? new Map<string, number>();
    entries.set(waitpointId, timeoutAt.getTime());
    this.channels.set(key, entries);
  }

  async drain(channel: ChannelKey, now: Date) {
    const key = channelKey(channel);
    const entries = this.channels.get(key);
    this.channels.delete(key);
    return [...(entries ?? [])].filter(([, deadline]) => deadline > now.getTime()).map(([id]) => id);
  }

  async markRebuilt() {}

  async close() {
    this.channels.clear();
  }
}
