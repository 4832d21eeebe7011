import { encodeRecords } from "../../src/channels/channel-writer.js";
import type { AppendAck, ChannelKey, StreamStore } from "../../src/channels/stream-store.js";

/**
 * Appends `data` to a channel of a store behind its default guard (MemoryStreamStore's
 * OpenSessionsGuard: the session named by its id), for unit tests of what reads the store.
 */
export async function appendTo(store: StreamStore, channel: ChannelKey, data: readonly unknown[]): Promise<AppendAck> {
  const outcome = await store.append({ session: { environmentId: "test", ref: channel.sessionId }, io: channel.io, records: encodeRecords(data) });
  if (outcome.status !== "appended") throw new Error(`append refused: session ${outcome.status}`);
  return outcome.ack;
}
