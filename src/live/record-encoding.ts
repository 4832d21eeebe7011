import type { StoredRecord } from "../channels/index.js";

/**
 * One JSON encoding per record object, and per shared subscription result. A channel's follower
 * hands the same record object to every subscriber of the channel, so the record is encoded once
 * for all of them: its size is what every byte budget counts, and (through the shared result) it
 * is the text a WebSocket sends, instead of each socket stringifying the record again.
 */

interface Encoded {
  /** The record's `data` as JSON. */
  json: string;
  /** Its length in UTF-8 bytes. */
  bytes: number;
}

const records = new WeakMap<StoredRecord, Encoded>();

function encode(record: StoredRecord): Encoded {
  let encoded = records.get(record);
  if (!encoded) {
    const json = JSON.stringify(record.data) ?? "null";
    encoded = { json, bytes: Buffer.byteLength(json) };
    records.set(record, encoded);
  }
  return encoded;
}

/** The record's data as JSON, encoded at most once per record object. */
export const recordJson = (record: StoredRecord) => encode(record).json;

/** What recordBytes adds to a record's JSON for its envelope. */
export const RECORD_ENVELOPE_BYTES = 128;

/**
 * The bytes a record costs a subscriber: its data's JSON plus a fixed allowance for the envelope
 * (seqNum, timestamp, ids), so that a flood of tiny records is not free either.
 */
export const recordBytes = (record: StoredRecord) => encode(record).bytes + RECORD_ENVELOPE_BYTES;

/** Never the text of a real value in a result: only record data is client-chosen, and it is spliced. */
const MARKER = "\u0000record\u0000";

/** Shared results' `data` objects and their JSON (see sharedSubscriptionResults). */
const results = new WeakMap<object, string>();

/**
 * Encodes a shared result's `data` once, splicing in the JSON of the records it carries as they
 * are (never re-encoding a record). Only plain JSON trees are expected here: it is what graphql-js
 * builds for a result.
 */
export function encodeResultData(data: object, record: StoredRecord | undefined): string {
  let json = results.get(data);
  if (json !== undefined) return json;
  if (record && typeof record.data === "object" && record.data !== null) {
    // The record's data object appears in the result as it is (the JSON scalar passes it through):
    // stand a marker in for it and splice its one encoding in afterwards.
    const marker = JSON.stringify(MARKER);
    const recordData = record.data;
    let spliced = false;
    const text = JSON.stringify(data, (_key, value: unknown) => {
      if (value === recordData && !spliced) {
        spliced = true;
        return MARKER;
      }
      return value;
    });
    json = spliced ? text.replace(marker, () => recordJson(record)) : text;
  } else {
    json = JSON.stringify(data);
  }
  results.set(data, json);
  return json;
}

/** The JSON of a shared result's `data`, when it was encoded by encodeResultData. */
export const encodedResultData = (data: unknown): string | undefined =>
  typeof data === "object" && data !== null ? results.get(data) : undefined;
