import { describe, expect, it } from "vitest";
import { bigIntToLsn, compareLsn, lsnToBigInt } from "../src/replication/lsn.js";
import { toClickHouseRow } from "../src/replication/session-row.js";

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
