import { describe, expect, it } from "vitest";
import { can, grantsFromScopes, scopeSchema } from "../src/auth/scopes.js";

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
