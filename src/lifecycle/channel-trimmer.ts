import type { ChannelKey, StreamStore } from "../channels/index.js";
import { type LifecycleCause, type LifecycleMetrics, noMetrics } from "./lifecycle-metrics.js";

/**
 * Trims channels, for trimSessionChannel and for record retention alike. The store moves the head
 * (never back, never past the tail) and removes what lies below it; from then on a read from below
 * the head answers RECORDS_TRIMMED. Subscribers already past the head read nothing below it again,
 * so a trim does not disturb them.
 */
export class ChannelTrimmer {
  constructor(
    private store: Pick<StreamStore, "trim">,
    private metrics: LifecycleMetrics = noMetrics,
  ) {}

  /** The channel's head after the trim. */
  async trim(channel: ChannelKey, beforeSeqNum: number, cause: LifecycleCause): Promise<number> {
    const { previousHead, head } = await this.store.trim(channel, beforeSeqNum);
    // SeqNums between the two heads are the records removed (on S2, a trim's own command record too).
    if (head > previousHead) this.metrics.recordsTrimmed(head - previousHead, cause);
    return head;
  }
}
