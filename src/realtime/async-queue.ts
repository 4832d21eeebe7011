/**
 * A bounded push queue read as an async iterator. Overflowing it fails the reader instead of
 * growing memory: a subscriber that cannot keep up is cut off with a clear error.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private failWaiting: ((e: unknown) => void) | undefined;
  private ended = false;
  private error: unknown;

  constructor(
    private capacity: number,
    private overflowError: () => Error,
    private onClose: () => void = () => {},
  ) {}

  get closed() {
    return this.ended;
  }

  get size() {
    return this.items.length;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = this.failWaiting = undefined;
      resolve({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.capacity) return this.fail(this.overflowError());
    this.items.push(item);
  }

  /** Ends the stream after the items already queued. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onClose();
    this.releaseDrain();
    if (this.waiting) {
      this.waiting({ value: undefined, done: true });
      this.waiting = this.failWaiting = undefined;
    }
  }

  /** Ends the stream at once with an error, dropping what is queued. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.items = [];
    this.ended = true;
    this.onClose();
    const reject = this.failWaiting;
    this.waiting = this.failWaiting = undefined;
    if (reject) reject(error);
    else this.error = error;
    this.releaseDrain();
  }

  /** Resolves once the reader has taken the queue down to `level` items (or it has ended). */
  drained(level: number): Promise<void> {
    if (this.items.length <= level || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainLevel = level;
      this.drainWaiter = resolve;
    });
  }

  private drainLevel = 0;
  private drainWaiter: (() => void) | undefined;

  private releaseDrain() {
    if (this.drainWaiter && (this.ended || this.items.length <= this.drainLevel)) {
      const resolve = this.drainWaiter;
      this.drainWaiter = undefined;
      resolve();
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      const value = this.items.shift() as T;
      this.releaseDrain();
      return Promise.resolve({ value, done: false });
    }
    if (this.error !== undefined) {
      const error = this.error;
      this.error = undefined;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.items = [];
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}
