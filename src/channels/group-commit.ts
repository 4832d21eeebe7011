import DataLoader from "dataloader";

export interface GroupCommitOptions {
  /** Most items in one batch. */
  maxBatch: number;
  /** Batches running at once; later items wait and join the next batch. */
  concurrency: number;
}

/**
 * Group commit on DataLoader: items queue while `concurrency` batches are running and go out
 * together when one finishes. Under load, many appends share one statement and one round trip
 * (a wake-up of a database process is what each costs most here); alone, an item goes out at once.
 */
export function groupCommit<K, V>(run: (batch: readonly K[]) => Promise<(V | Error)[]>, options: GroupCommitOptions) {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  const loader = new DataLoader<K, V>(
    async (batch) => {
      try {
        return await run(batch);
      } finally {
        release();
      }
    },
    {
      cache: false,
      maxBatchSize: options.maxBatch,
      // setImmediate, not a microtask: items read in the same turn of the event loop go together.
      batchScheduleFn: (dispatch) => {
        if (active < options.concurrency) {
          active++;
          setImmediate(dispatch);
        } else waiting.push(dispatch);
      },
    },
  );
  return (item: K) => loader.load(item);
}
