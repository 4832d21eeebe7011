import { ApiError, badInput, notFound, sessionClosed } from "../errors/index.js";
import type { Refusals } from "../refusals.js";
import { StorageFullError } from "./storage-caps.js";
import type { AppendAck, ChannelKey, NewRecords, SessionIO, SessionName, StreamStore } from "./stream-store.js";

import { appendLimits } from "../limits.js";

export interface AppendOptions {
  matchSeqNum?: number | null;
  idempotencyKey?: string | null;
}

export interface ChannelWriterOptions {
  /** Where a refusal by a storage cap is recorded (metric, throttled warn line). Default: not recorded. */
  refusals?: Pick<Refusals, "record">;
}

export interface AppendResult extends AppendAck {
  sessionId: string;
  deduplicated: boolean;
}

/**
 * Called after an append has committed, e.g. to wake followers and waitpoints; `data` are the
 * records as appended, in order.
 */
export type AppendListener = (channel: ChannelKey, ack: AppendAck, data: readonly unknown[]) => void;

const tooLarge = (message: string) => new ApiError("PAYLOAD_TOO_LARGE", message);

/** Checks an append against the limits and encodes each record once, for the limits and the store alike. */
export function encodeRecords(data: readonly unknown[]): NewRecords {
  if (data.length === 0) throw badInput("records must hold at least one record");
  if (data.length > appendLimits.recordsPerAppend) {
    throw tooLarge(`at most ${appendLimits.recordsPerAppend} records per append`);
  }
  const json = data.map((d) => JSON.stringify(d) ?? "null");
  let total = 0;
  for (const [i, text] of json.entries()) {
    const bytes = Buffer.byteLength(text);
    if (bytes > appendLimits.recordBytes) throw tooLarge(`record ${i} is ${bytes} bytes; a record is at most 1 MiB of JSON`);
    total += bytes;
  }
  if (total > appendLimits.appendBytes) throw tooLarge(`the append is ${total} bytes; an append is at most 1 MiB of JSON`);
  // The total is kept: it is what the storage caps count.
  return { data, json, bytes: total };
}

/**
 * The one way records enter a channel: checks an append against the limits, encodes it once, hands
 * it to the store (whose one append path guards it, see StreamStore), and tells the listeners of
 * each append that stored something.
 */
export class ChannelWriter {
  private listeners: AppendListener[] = [];

  constructor(
    private store: StreamStore,
    private options: ChannelWriterOptions = {},
  ) {}

  onAppend(listener: AppendListener) {
    this.listeners.push(listener);
  }

  /** Appends to a session named as the client named it; NOT_FOUND when there is none. */
  async append(target: SessionName, io: SessionIO, data: unknown[], opts: AppendOptions = {}): Promise<AppendResult> {
    const records = encodeRecords(data);
    const key = opts.idempotencyKey ?? undefined;
    if (key !== undefined && (key.length === 0 || key.length > appendLimits.idempotencyKeyLength)) {
      throw badInput(`idempotencyKey must be 1 to ${appendLimits.idempotencyKeyLength} characters`);
    }
    let outcome;
    try {
      outcome = await this.store.append({ session: target, io, records, matchSeqNum: opts.matchSeqNum ?? undefined, idempotencyKey: key });
    } catch (error) {
      if (error instanceof StorageFullError) {
        const client = error.scope === "session" ? `session:${error.sessionId}` : `environment:${error.environmentId}`;
        this.options.refusals?.record(`${error.scope}_storage`, client, error.message);
      }
      throw error;
    }
    if (outcome.status === "missing") throw notFound(`session ${JSON.stringify(target.ref)}`);
    if (outcome.status === "closed") throw sessionClosed(outcome.sessionId);
    const { sessionId, ack, deduplicated } = outcome;
    if (!deduplicated) for (const listener of this.listeners) listener({ sessionId, io }, ack, data);
    return { ...ack, sessionId, deduplicated };
  }
}
