import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { Housekeeping } from "../src/housekeeping/index.js";
import { resolveLimits } from "../src/limits.js";
import { startServer, type Gql, type TestServer } from "./helpers/test-server.js";

/**
 * The sweeper's side of the data lifecycle (issue #15): its configuration, a task that fails
 * leaving the others to run, and a deletion whose purge was cut short, finished by the next sweep.
 */
describe("retention configuration", () => {
  it("parses the retention variables and the sweep interval, naming a bad one", () => {
    const defaults = loadConfig({});
    expect(defaults.sweepIntervalMs).toBe(60_000);
    expect(resolveLimits(defaults)).toMatchObject({ sessionRetentionMs: null, recordRetentionMs: null });
    const set = loadConfig({ RETENTION_SWEEP_INTERVAL: "5s", SESSION_RETENTION: "90d", RECORD_RETENTION: "12h" });
    expect(set.sweepIntervalMs).toBe(5_000);
    expect(resolveLimits(set)).toMatchObject({ sessionRetentionMs: 90 * 86_400_000, recordRetentionMs: 12 * 3_600_000 });
    expect(resolveLimits(loadConfig({ SESSION_RETENTION: "off" })).sessionRetentionMs).toBeNull();
    // The older variable still sets the interval, unless the new one is there too.
    expect(loadConfig({ HOUSEKEEPING_INTERVAL_MS: "2000" }).sweepIntervalMs).toBe(2_000);
    expect(loadConfig({ HOUSEKEEPING_INTERVAL_MS: "2000", RETENTION_SWEEP_INTERVAL: "3s" }).sweepIntervalMs).toBe(3_000);
    expect(() => loadConfig({ RETENTION_SWEEP_INTERVAL: "500ms" })).toThrow(/RETENTION_SWEEP_INTERVAL/);
    expect(() => loadConfig({ SESSION_RETENTION: "forever" })).toThrow(/SESSION_RETENTION/);
    expect(() => loadConfig({ RECORD_RETENTION: "-1d" })).toThrow(/RECORD_RETENTION/);
  });
});

describe("the sweeper", () => {
  let server: TestServer;
  let gql: Gql;

  beforeAll(async () => {
    // Sweeps only when the test runs one.
    server = await startServer("pglite", { RETENTION_SWEEP_INTERVAL: "1d" });
    gql = (await server.newEnvironment()).gql;
  }, 60_000);
  afterAll(() => server?.close());

  it("runs every task even when one fails, and reports the sweep's duration", async () => {
    const ran: string[] = [];
    const swept: number[] = [];
    const housekeeping = new Housekeeping({
      sql: server.services.db.sql,
      logger: pino({ level: "silent" }),
      onSwept: (ms) => swept.push(ms),
      tasks: [
        { name: "first", sweepBatch: async () => (ran.push("first"), 0) },
        {
          name: "failing",
          sweepBatch: async () => {
            ran.push("failing");
            throw new Error("store unreachable");
          },
        },
        { name: "last", sweepBatch: async () => (ran.push("last"), 0) },
      ],
    });
    expect(await housekeeping.sweep()).toEqual({ first: 0, failing: 0, last: 0 });
    expect(ran).toEqual(["first", "failing", "last"]);
    expect(swept).toHaveLength(1);
  });

  it("finishes a deletion whose purge failed: the session is gone at once, its records with the next sweep", async () => {
    const id = (await gql(`mutation { createSession(input: { type: "purge", externalId: "half-deleted" }) { session { id } } }`)).data!.createSession.session.id as string;
    await gql(`mutation($id: ID!) { appendToSession(id: $id, io: OUT, records: [{ data: 1 }, { data: 2 }], idempotencyKey: "k") { lastSeqNum } }`, { id });
    const { store, db } = server.services;
    const rows = (table: string) => db.sql.query(`SELECT 1 FROM ${table} WHERE session_id = $1`, [id]);
    // The store fails while the deletion purges (as a store that is down would).
    const deleteChannels = store.deleteChannels.bind(store);
    store.deleteChannels = async () => {
      throw new Error("store unreachable");
    };
    try {
      expect((await gql(`mutation { deleteSession(id: "half-deleted") { deleted } }`)).data!.deleteSession.deleted).toBe(true);
    } finally {
      store.deleteChannels = deleteChannels;
    }
    expect((await gql(`{ session(id: "half-deleted") { id } }`)).data!.session).toBeNull();
    expect(await rows("channel_records")).toHaveLength(2);
    expect(await rows("session_purges")).toHaveLength(1);

    expect(await server.services.housekeeping.sweep()).toMatchObject({ session_purges: 1 });
    for (const table of ["channel_records", "append_keys", "session_purges"]) expect(await rows(table), table).toEqual([]);
  });
});
