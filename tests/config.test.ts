import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

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
