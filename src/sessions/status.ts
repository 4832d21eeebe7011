export type SessionStatus = "ACTIVE" | "CLOSED" | "EXPIRED";

/** Derived, never stored: an expiry passes without any write. */
export function sessionStatus(s: { closedAt: Date | null; expiresAt: Date | null }, now = new Date()): SessionStatus {
  if (s.closedAt) return "CLOSED";
  if (s.expiresAt && s.expiresAt.getTime() <= now.getTime()) return "EXPIRED";
  return "ACTIVE";
}
