/** Why records or a session went: a client asked (trimSessionChannel, deleteSession), or retention. */
export type LifecycleCause = "api" | "retention";

/** Where the lifecycle reports what it removed (Prometheus counters in the service; nothing in tests). */
export interface LifecycleMetrics {
  recordsTrimmed(count: number, cause: LifecycleCause): void;
  sessionDeleted(cause: LifecycleCause): void;
}

export const noMetrics: LifecycleMetrics = { recordsTrimmed() {}, sessionDeleted() {} };
