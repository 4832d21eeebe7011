import type { UIMessageChunk } from "ai";

export interface ChunkBatcherOptions {
  /** Writes records (in order, atomically); called with at most one write in flight. */
  write: (chunkLists: UIMessageChunk[][], batch: number) => Promise<void>;
  /** Largest record, in bytes of JSON (the service takes 1 MiB). Default 256 KiB. */
  maxRecordBytes?: number;
  /** Largest write, in bytes of JSON (the service takes 1 MiB per append). Default 768 KiB. */
  maxWriteBytes?: number;
}

const encoder = new TextEncoder();
const bytes = (chunk: UIMessageChunk) => encoder.encode(JSON.stringify(chunk)).length;

/**
 * Coalesces a reply's chunks into few records without delaying the first: a chunk is written at
 * once when no write is in flight; while one is, chunks wait and go out together in the next one,
 * and consecutive deltas of the same part merge into one chunk. A fast model's reply therefore
 * becomes about one record per append round trip (a 2,000-token reply, a handful), a slow one
 * a record per chunk, each as soon as it can be.
 */
export class ChunkBatcher {
  private waiting: { chunk: UIMessageChunk; bytes: number }[] = [];
  private writing: Promise<void> | undefined;
  private failed: unknown;
  private batch = 0;
  private maxRecordBytes: number;
  private maxWriteBytes: number;

  constructor(private options: ChunkBatcherOptions) {
    this.maxRecordBytes = options.maxRecordBytes ?? 256 * 1024;
    this.maxWriteBytes = options.maxWriteBytes ?? 768 * 1024;
  }

  /** Queues a chunk; throws the error of a failed write (the reply cannot go on). */
  push(chunk: UIMessageChunk) {
    if (this.failed) throw this.failed;
    const size = bytes(chunk);
    const last = this.waiting.at(-1);
    // Merged deltas stay within a record.
    const merged = last && last.bytes + size <= this.maxRecordBytes ? merge(last.chunk, chunk) : undefined;
    if (last && merged) this.waiting[this.waiting.length - 1] = { chunk: merged, bytes: last.bytes + size };
    else this.waiting.push({ chunk, bytes: size });
    this.writing ??= this.drain();
  }

  /** Resolves once every queued chunk is written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failed) throw this.failed;
  }

  private async drain() {
    try {
      while (this.waiting.length > 0) {
        const records: UIMessageChunk[][] = [];
        let record: UIMessageChunk[] = [];
        let recordBytes = 0;
        let total = 0;
        while (this.waiting.length > 0) {
          const next = this.waiting[0]!;
          if (total + next.bytes > this.maxWriteBytes && total > 0) break;
          if (recordBytes + next.bytes > this.maxRecordBytes && record.length > 0) {
            records.push(record);
            record = [];
            recordBytes = 0;
          }
          record.push(next.chunk);
          recordBytes += next.bytes;
          total += next.bytes;
          this.waiting.shift();
        }
        records.push(record);
        await this.options.write(records, this.batch++);
      }
    } catch (error) {
      this.failed = error;
      this.waiting = [];
    } finally {
      this.writing = undefined;
    }
  }
}

/** One chunk for two consecutive deltas of the same part; undefined when they do not merge. */
function merge(a: UIMessageChunk, b: UIMessageChunk): UIMessageChunk | undefined {
  if (a.type === "text-delta" && b.type === "text-delta" && a.id === b.id && !b.providerMetadata) return { ...a, delta: a.delta + b.delta };
  if (a.type === "reasoning-delta" && b.type === "reasoning-delta" && a.id === b.id && !b.providerMetadata) return { ...a, delta: a.delta + b.delta };
  if (a.type === "tool-input-delta" && b.type === "tool-input-delta" && a.toolCallId === b.toolCallId) return { ...a, inputTextDelta: a.inputTextDelta + b.inputTextDelta };
  return undefined;
}
