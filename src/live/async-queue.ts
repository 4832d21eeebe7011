/** A limit on what a queue holds by size, not only by count. */
export interface ByteBudget<T> {
  /** Bytes the queue may hold; one more item beyond it fails the reader. No default: required. */
  maxBytes: number;
  /** An item's size in bytes; called once per item, so it should be cheap (see recordBytes). */
  sizeOf: (item: T) => number;
}

/**
 * A bounded push queue read as an async iterator. Overflowing it, by count or (with a byte
 * budget) by bytes, fails the reader instead of growing memory: a subscriber that cannot keep up
 * is cut off with a clear error.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  /** Sizes of `items`, in order, when there is a byte budget. */
  private sizes: number[] = [];
  private heldBytes = 0;
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private failWaiting: ((e: unknown) => void) | undefined;
  private ended = false;
  private error: unknown;

  constructor(
    private capacity: number,
    private overflowError: () => Error,
    private onClose: () => void = () => {},
    private budget?: ByteBudget<T>,
  ) {}

  get closed() {
    return this.ended;
  }

  get size() {
    return this.items.length;
  }

  /** Bytes held, by the byte budget's measure (0 without one). */
  get bytes() {
    return this.heldBytes;
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
    if (this.budget) {
      const size = this.budget.sizeOf(item);
      if (this.heldBytes + size > this.budget.maxBytes && this.items.length > 0) return this.fail(this.overflowError());
      this.sizes.push(size);
      this.heldBytes += size;
    }
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
    this.clear();
    this.ended = true;
    this.onClose();
    const reject = this.failWaiting;
    this.waiting = this.failWaiting = undefined;
    if (reject) reject(error);
    else this.error = error;
    this.releaseDrain();
  }

  /**
   * Resolves once the reader has taken the queue down to `level` items and `bytesLevel` bytes
   * (default: any) (or it has ended).
   */
  drained(level: number, bytesLevel = Infinity): Promise<void> {
    this.drainLevel = level;
    this.drainBytes = bytesLevel;
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  private drainLevel = 0;
  private drainBytes = Infinity;
  private drainWaiter: (() => void) | undefined;

  private isDrained() {
    return this.ended || (this.items.length <= this.drainLevel && this.heldBytes <= this.drainBytes);
  }

  private clear() {
    this.items = [];
    this.sizes = [];
    this.heldBytes = 0;
  }

  private releaseDrain() {
    if (this.drainWaiter && this.isDrained()) {
      const resolve = this.drainWaiter;
      this.drainWaiter = undefined;
      resolve();
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      const value = this.items.shift() as T;
      if (this.budget) this.heldBytes -= this.sizes.shift()!;
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
    this.clear();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}
