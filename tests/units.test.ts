import { buildSchema, executeSync, parse, type GraphQLResolveInfo } from "graphql";
import { describe, expect, it } from "vitest";
import { can, grantsFromScopes, scopeSchema } from "../src/auth/scopes.js";
import { loadConfig } from "../src/config.js";
import { bigIntToLsn, compareLsn, lsnToBigInt } from "../src/replication/lsn.js";
import { toClickHouseRow } from "../src/replication/session-row.js";
import { decodeCursor, encodeCursor } from "../src/sessions/cursor.js";
import { parseDuration } from "../src/sessions/duration.js";
import { selects } from "../src/resolvers/selection.js";
import { sessionStatus } from "../src/sessions/status.js";

describe("scopes", () => {
  const s = (id: string, externalId: string | null = null) => ({ id, externalId });
  it("grants by friendly id or externalId, with admin > write > read", () => {
    const g = grantsFromScopes(["read:sessions:session_a", "write:sessions:chat-1"]);
    expect(can(g, "read", s("session_a"))).toBe(true);
    expect(can(g, "write", s("session_a"))).toBe(false);
    expect(can(g, "read", s("session_b", "chat-1"))).toBe(true);
    expect(can(g, "write", s("session_b", "chat-1"))).toBe(true);
    expect(can(g, "admin", s("session_b", "chat-1"))).toBe(false);
    expect(can(g, "read", s("session_c"))).toBe(false);
    expect(can(grantsFromScopes(["admin"]), "write", s("x"))).toBe(true);
    expect(can(grantsFromScopes(["read:all"]), "write", s("x"))).toBe(false);
    expect(can(grantsFromScopes(["write:sessions"]), "read", s("x"))).toBe(true);
    expect(can(grantsFromScopes(["bogus", "read:everything"]), "read", s("x"))).toBe(false);
  });
  it("validates scope strings", () => {
    for (const ok of ["read:all", "write:all", "admin", "admin:sessions", "read:sessions:session_x", "write:sessions:my chat"]) {
      expect(scopeSchema.safeParse(ok).success, ok).toBe(true);
    }
    for (const bad of ["", "admin:all", "read", "read:sessions:", "delete:sessions", "read:all:x"]) {
      expect(scopeSchema.safeParse(bad).success, bad).toBe(false);
    }
  });
});

describe("durations, cursors, status", () => {
  it("parses durations", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    for (const bad of ["", "0s", "1y", "-1h", "1.5h", "h"]) expect(parseDuration(bad), bad).toBeUndefined();
  });
  it("round-trips cursors and rejects garbage", () => {
    const c = { createdAt: new Date("2026-01-02T03:04:05.678Z"), id: "session_abc" };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    for (const bad of ["", "xyz", Buffer.from("[1]").toString("base64url"), Buffer.from('["a","b"]').toString("base64url")]) {
      expect(() => decodeCursor(bad)).toThrow(/invalid cursor/);
    }
  });
  it("derives status", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    expect(sessionStatus({ closedAt: null, expiresAt: null }, now)).toBe("ACTIVE");
    expect(sessionStatus({ closedAt: null, expiresAt: new Date("2025-12-31T00:00:00Z") }, now)).toBe("EXPIRED");
    expect(sessionStatus({ closedAt: now, expiresAt: new Date("2025-12-31T00:00:00Z") }, now)).toBe("CLOSED");
  });
});

describe("configuration", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 4000, HOST: "127.0.0.1", DATA_DIR: "./data", replicationEnabled: false });
    expect(loadConfig({ DATABASE_URL: "postgres://x/y", CLICKHOUSE_URL: "http://c:8123" }).replicationEnabled).toBe(true);
  });
  it("names the variable that is wrong", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => loadConfig({ SESSIONS_SECRET_KEY: "sk_short" })).toThrow(/SESSIONS_SECRET_KEY/);
    expect(() => loadConfig({ DATABASE_URL: "not a url" })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ S2_ACCESS_TOKEN: "t" })).toThrow(/S2_BASIN/);
  });
});

describe("replication helpers", () => {
  it("orders LSNs as 64-bit integers and round-trips them", () => {
    expect(lsnToBigInt("16/B374D848")).toBe(0x16b374d848n);
    expect(bigIntToLsn(0x16b374d848n)).toBe("16/B374D848");
    expect(compareLsn("0/FF", "1/0")).toBe(-1);
    expect(() => lsnToBigInt("nope")).toThrow();
  });
  it("maps a replicated row to sessions_v1", () => {
    const row = toClickHouseRow(
      { id: "session_x", environment_id: "env_1", external_id: null, type: "chat", task_identifier: "t", tags: ["a"], closed_at: null, expires_at: new Date("2026-01-02T03:04:05.678Z"), created_at: "2026-01-01 00:00:00.5+00", updated_at: new Date(0) },
      2n ** 60n,
      true,
    );
    expect(row).toEqual({
      environment_id: "env_1", session_id: "session_x", external_id: null, type: "chat", task_identifier: "t", tags: ["a"],
      closed_at: null, expires_at: "2026-01-02 03:04:05.678", created_at: "2026-01-01 00:00:00.500", updated_at: "1970-01-01 00:00:00.000",
      _version: "1152921504606846976", _is_deleted: 1,
    });
  });
});

describe("selections", () => {
  const schema = buildSchema(`type Query { list: Conn } type Conn { total: Int items: [Int] }`);
  const seen = (query: string) => {
    let result: boolean | undefined;
    const rootValue = { list: (_a: unknown, _c: unknown, info: GraphQLResolveInfo) => ((result = selects(info, "total")), {}) };
    executeSync({ schema, document: parse(query), rootValue });
    return result;
  };

  it("finds a field however it is selected", () => {
    expect(seen(`{ list { total } }`)).toBe(true);
    expect(seen(`{ list { n: total } }`)).toBe(true);
    expect(seen(`{ list { ... on Conn { total } } }`)).toBe(true);
    expect(seen(`{ list { ...F } } fragment F on Conn { items total }`)).toBe(true);
    expect(seen(`{ list { items } }`)).toBe(false);
    expect(seen(`{ list { ...F } } fragment F on Conn { items }`)).toBe(false);
  });
});
