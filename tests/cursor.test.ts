import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../src/sessions/cursor.js";

describe("list cursors", () => {
  it("round-trips cursors and rejects garbage", () => {
    const c = { createdAt: new Date("2026-01-02T03:04:05.678Z"), id: "session_abc" };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    for (const bad of ["", "xyz", Buffer.from("[1]").toString("base64url"), Buffer.from('["a","b"]').toString("base64url")]) {
      expect(() => decodeCursor(bad)).toThrow(/invalid cursor/);
    }
  });
});
