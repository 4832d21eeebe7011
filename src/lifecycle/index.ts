/**
 * The data lifecycle: trimming channels, deleting sessions, and retention (the sweeper's tasks for
 * SESSION_RETENTION, RECORD_RETENTION and each session's recordRetention). See docs/retention.md.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
import type { StreamStore } from "../channels/index.js";
import type { SweepTask } from "../housekeeping/index.js";
import { ChannelTrimmer } from "./channel-trimmer.js";
import type { LifecycleMetrics } from "./lifecycle-metrics.js";
import { pendingPurges, recordRetention, sessionRetention } from "./retention-tasks.js";
import { SessionDeleter, type SessionDeleterOptions } from "./session-deleter.js";

export { ChannelTrimmer } from "./channel-trimmer.js";
export type { LifecycleCause, LifecycleMetrics } from "./lifecycle-metrics.js";
export { pendingPurges, recordRetention, sessionRetention } from "./retention-tasks.js";
export { SessionDeleter, type DeleteCondition, type SessionDeleterOptions } from "./session-deleter.js";

export interface LifecycleOptions extends Omit<SessionDeleterOptions, "store"> {
  store: Pick<StreamStore, "trim" | "seqNumAt" | "deleteChannels" | "revokeAccess">;
  metrics: LifecycleMetrics;
  /** SESSION_RETENTION: closed or expired sessions are deleted this long after; null: kept. */
  sessionRetentionMs: number | null;
  /** RECORD_RETENTION: the record retention of sessions created without their own; null: kept. */
  recordRetentionMs: number | null;
}

export interface Lifecycle {
  deleter: SessionDeleter;
  trimmer: ChannelTrimmer;
  /** The sweeper's retention tasks, in the order they run: unfinished purges, sessions, records. */
  tasks: SweepTask[];
}

export function createLifecycle(options: LifecycleOptions): Lifecycle {
  const deleter = new SessionDeleter(options);
  const trimmer = new ChannelTrimmer(options.store, options.metrics);
  const tasks = [pendingPurges(deleter)];
  if (options.sessionRetentionMs !== null) tasks.push(sessionRetention(deleter, options.sessionRetentionMs));
  tasks.push(recordRetention(options.store, trimmer, options.recordRetentionMs));
  return { deleter, trimmer, tasks };
}
