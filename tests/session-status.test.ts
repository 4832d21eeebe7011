import { describe, expect, it } from "vitest";
import { sessionStatus } from "../src/sessions/status.js";

describe("session status", () => {
  it("derives status", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    expect(sessionStatus({ closedAt: null, expiresAt: null }, now)).toBe("ACTIVE");
    expect(sessionStatus({ closedAt: null, expiresAt: new Date("2025-12-31T00:00:00Z") }, now)).toBe("EXPIRED");
    expect(sessionStatus({ closedAt: now, expiresAt: new Date("2025-12-31T00:00:00Z") }, now)).toBe("CLOSED");
  });
});
