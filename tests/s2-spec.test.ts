import { describe, expect, it } from "vitest";
import { s2Spec } from "./helpers/s2-spec.js";

/**
 * The schemas the S2 double is held to (tests/helpers/s2-spec.ts, from the installed SDK's
 * generated types): they must refuse what S2's API does not say, or the double's validation
 * proves nothing.
 */
describe("S2's API schemas (from the installed SDK)", () => {
  const spec = s2Spec();
  const position = { seq_num: 1, timestamp: 2 };

  it("takes S2's shapes", () => {
    expect(spec.response("Append", 200, { start: position, end: position, tail: position })).toBeUndefined();
    expect(spec.response("Append", 412, { seq_num_mismatch: 3 })).toBeUndefined();
    expect(spec.response("Read", 416, { tail: position })).toBeUndefined();
    expect(spec.response("RevokeAccessToken", 204, undefined)).toBeUndefined();
    expect(spec.response("Read", 429, { code: "rate_limited", message: "slow down" })).toBeUndefined();
    expect(spec.request("CreateStream", { stream: "s", config: { retention_policy: { infinite: {} }, delete_on_empty: { min_age_secs: 0 } } })).toBeUndefined();
    expect(spec.query("Read", new URLSearchParams({ seq_num: "0", clamp: "true", count: "10" }))).toBeUndefined();
    expect(spec.event({ event: "ping", data: { timestamp: 1, tail: position } })).toBeUndefined();
    expect(spec.event({ event: "batch", data: { records: [{ seq_num: 0, timestamp: 1, body: "x", headers: [["a", "b"]] }], tail: position }, id: "1,1,10" })).toBeUndefined();
    expect(spec.event({ event: "error", data: "gone" })).toBeUndefined();
  });

  it("refuses fields missing, fields S2 has not, statuses an operation does not answer, and SDK-side names", () => {
    expect(spec.response("Append", 200, { start: position, end: position })).toMatch(/tail/);
    expect(spec.response("CheckTail", 200, { tail: position, head: position })).toMatch(/additional/);
    expect(spec.response("RevokeAccessToken", 200, {})).toMatch(/status 200/);
    expect(spec.response("Read", 401, { code: "unauthorized", message: "no" })).toMatch(/status 401/);
    expect(spec.response("Read", 404, { code: "stream_not_found" })).toMatch(/message/);
    // The SDK's own camelCase names never reach the wire.
    expect(spec.request("CreateStream", { stream: "s", config: { retentionPolicy: { ageSecs: 5 } } })).toBeDefined();
    expect(spec.request("IssueAccessToken", { id: "t", scope: { ops: ["append", "write-everything"] } })).toBeDefined();
    expect(spec.query("Read", new URLSearchParams({ seq_num: "x" }))).toBeDefined();
    expect(spec.query("Read", new URLSearchParams({ from: "0" }))).toBeDefined();
    // A ping without the tail, a batch without its id.
    expect(spec.event({ event: "ping", data: { timestamp: 1 } })).toBeDefined();
    expect(spec.event({ event: "batch", data: { records: [] } })).toBeDefined();
  });
});
