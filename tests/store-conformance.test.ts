import { describe } from "vitest";
import { DatabaseAppendGuard } from "../src/channels/append-guard.js";
import { ChannelWriter } from "../src/channels/channel-writer.js";
import { MemoryStreamStore } from "../src/channels/memory-stream-store.js";
import { startS2Double } from "./helpers/s2-double.js";
import { storeConformance, type ConformanceTarget, type StoreTraits } from "./helpers/store-conformance.js";
import { startServer } from "./helpers/test-server.js";

/** JSON bytes: the measure of the memory store, and of the local one for the strings the suite reads by bytes. */
const jsonBytes = (json: string) => Buffer.byteLength(json);

/** The service's own store and writer, on the given backend. */
async function serviceStore(backend: "pglite" | "postgres", extra: Record<string, string> = {}, done?: () => Promise<void>): Promise<ConformanceTarget> {
  const server = await startServer(backend, extra);
  return {
    server,
    store: server.services.store,
    follow: server.services.follow,
    writer: server.services.writer,
    async close() {
      await server.close();
      await done?.();
    },
  };
}

const stores: { name: string; traits: StoreTraits; open: () => Promise<ConformanceTarget> }[] = [
  {
    name: "memory",
    traits: { timestamps: "reported", readBytes: jsonBytes, follows: true, storesNul: true, trimTakesSeqNum: false },
    async open() {
      // The memory store behind the service's database guard, as S2 is (the session rows, the close
      // guard, caps and idempotency keys in the database), on a PGlite service, with a writer of its own.
      const server = await startServer("pglite");
      const store = new MemoryStreamStore({ guard: new DatabaseAppendGuard(server.services.prisma) });
      const follow = store.follow.bind(store);
      return { server, store, follow, writer: new ChannelWriter(store), close: () => server.close() };
    },
  },
  {
    name: "local on PGlite",
    traits: { timestamps: "reported", readBytes: jsonBytes, follows: false, storesNul: false, trimTakesSeqNum: false },
    open: () => serviceStore("pglite"),
  },
  {
    name: "local on PostgreSQL",
    traits: { timestamps: "reported", readBytes: jsonBytes, follows: false, storesNul: false, trimTakesSeqNum: false },
    open: () => serviceStore("postgres"),
  },
  {
    name: "S2 (SDK against the S2 double)",
    // S2 meters a record as its body plus 8 bytes (no headers here).
    traits: { timestamps: "own-clock", readBytes: (json) => Buffer.byteLength(json) + 8, follows: true, storesNul: true, trimTakesSeqNum: true },
    async open() {
      const double = await startS2Double("s2-root-token");
      return serviceStore("pglite", double.env, () => double.close());
    },
  },
];

describe.each(stores)("stream store conformance: $name", ({ traits, open }) => storeConformance(traits, open));
