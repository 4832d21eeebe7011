import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AppendToSessionDocument, CreateSessionDocument, ListSessionsDocument, SessionRecordsDocument } from "../client/generated/graphql.js";
import { SessionsClient, SessionsError } from "../client/src/sessions-client.js";
import { errorCodes } from "../src/errors/api-error.js";
import { startServer, type TestServer } from "./helpers/test-server.js";

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const CLIENTS = 200;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MiB = 1024 * 1024;
/**
 * The heap in use once collecting frees nothing more: collected again after each turn of the event
 * loop (callbacks of closed sockets and finalizers release memory in between) until two
 * collections in a row agree within 1 MiB; at most 20 collections.
 */
const settledHeap = async () => {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    gc();
    const heap = process.memoryUsage().heapUsed;
    if (Math.abs(heap - last) < MiB) return heap;
    last = heap;
    await new Promise((r) => setImmediate(r));
  }
  return last;
};

/** 200 clients mixing creates, appends, lists and subscriptions for a minute, against one process. */
describe("load", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("postgres");
  });
  afterAll(() => server?.close());

  it(`${CLIENTS} concurrent clients for ${SECONDS}s: only contract errors, and memory flat afterwards`, async () => {
    const { secretKey } = await server.newEnvironment();
    const codes = new Map<string, number>();
    const unexpected: string[] = [];
    let operations = 0;
    const note = (error: unknown) => {
      if (error instanceof SessionsError && error.code && (errorCodes as readonly string[]).includes(error.code) && error.code !== "INTERNAL_SERVER_ERROR") {
        codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
      } else unexpected.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    };

    // Warm up, then measure the heap the load starts from.
    const warm = new SessionsClient({ url: server.url, token: secretKey });
    await warm.request(CreateSessionDocument, { input: { type: "warm" } });
    const before = await settledHeap();

    const deadline = Date.now() + SECONDS * 1000;
    const client = async (k: number) => {
      const c = new SessionsClient({ url: server.url, token: secretKey });
      const mine: string[] = [];
      while (Date.now() < deadline) {
        const roll = Math.random();
        try {
          if (roll < 0.2 || mine.length === 0) {
            const { createSession } = await c.request(CreateSessionDocument, { input: { type: "load", externalId: `c${k}-${mine.length % 5}`, tags: [`client:${k % 10}`] } });
            mine.push(createSession.session.id);
          } else if (roll < 0.65) {
            const id = mine[Math.floor(Math.random() * mine.length)]!;
            await c.request(AppendToSessionDocument, { id, io: Math.random() < 0.5 ? "IN" : "OUT", records: [{ data: { k, at: Date.now() } }], ...(roll < 0.3 && { matchSeqNum: 0 }) });
          } else if (roll < 0.85) {
            await c.request(ListSessionsDocument, { first: 25, filter: { tags: [`client:${k % 10}`] } });
          } else {
            const id = mine[Math.floor(Math.random() * mine.length)]!;
            // A watcher that stays 300 ms: the workload's shape, not a wait for anything.
            const watch = new AbortController();
            setTimeout(() => watch.abort(), 300);
            for await (const _ of c.subscribe(SessionRecordsDocument, { id, io: "OUT", fromSeqNum: 0 }, watch.signal));
          }
          operations++;
        } catch (error) {
          note(error);
        }
      }
      await c.close();
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));
    await warm.close();

    expect(unexpected.slice(0, 5)).toEqual([]);
    expect(operations).toBeGreaterThan(CLIENTS * 5);
    // The only refusals are the intended ones (matchSeqNum on a busy channel).
    expect([...codes.keys()].every((c) => c === "SEQ_NUM_MISMATCH")).toBe(true);
    // The server lets go of the load: every subscription ended, every channel follower stopped.
    const open = async () => (await server.services.metrics.subscriptionsOpen.get()).values[0]?.value ?? 0;
    await vi.waitFor(async () => expect(await open()).toBe(0), { timeout: 10_000, interval: 20 });
    await vi.waitFor(() => expect(server.services.fanout.followerCount).toBe(0), { timeout: 10_000, interval: 20 });
    const after = await settledHeap();
    expect(after - before).toBeLessThan(64 * MiB);
  }, (SECONDS + 60) * 1000);
});
