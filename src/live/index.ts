/**
 * Live delivery: change signals (in process or Redis), watchers, the per-channel fan-out and its
 * follower, bounded queues, the shared encoding of a record, and per-connection byte budgets.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { AsyncQueue } from "./async-queue.js";
export { ChannelFanout } from "./channel-fanout.js";
export { CountedCaps } from "./counted-caps.js";
export { Outbox, bindConnection, connectionOf, credentialKey, credentialKeyOf, type Connection } from "./outbox.js";
export { RECORD_ENVELOPE_BYTES, encodeResultData, encodedResultData, recordBytes } from "./record-encoding.js";
export { LocalSignals, RedisSignals, sessionChanged, topicOf, topics, type Listening, type Signal, type Signals } from "./signals.js";
export { Watchers } from "./watchers.js";
