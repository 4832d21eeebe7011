/**
 * Channel storage: the StreamStore interface and its stores (local on the service's database,
 * S2, memory), the writer every append goes through, storage caps and direct S2 access grants.
 *
 * Other domains import this folder only through this file (.dependency-cruiser.cjs).
 */
export { DatabaseAppendGuard } from "./append-guard.js";
export { ChannelAccessGrants } from "./channel-access-grants.js";
export { ChannelWriter } from "./channel-writer.js";
export { LocalStreamStore } from "./local-stream-store.js";
export { checkS2Basin, S2StreamStore } from "./s2-stream-store.js";
export { storageCaps } from "./storage-caps.js";
export { channelKey, channelsOf, parseChannelKey } from "./stream-store.js";
export type { AppendAck, ChannelKey, Follow, SessionIO, StoredRecord, StreamStore, TrimResult } from "./stream-store.js";
