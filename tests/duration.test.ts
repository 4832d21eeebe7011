import { describe, expect, it } from "vitest";
import { parseDuration } from "../src/duration.js";

describe("durations", () => {
  it("parses durations", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    for (const bad of ["", "0s", "1y", "-1h", "1.5h", "h"]) expect(parseDuration(bad), bad).toBeUndefined();
  });
});
