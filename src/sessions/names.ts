/**
 * A session's name (its externalId) is matched byte for byte: by scopes, by lookups and by the
 * unique index. So a name is refused unless it is already in its one canonical form, rather than
 * normalized in some places and not others (a token for "  alice  " must never reach "alice").
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name !== name.trim()) return "must not start or end with white space";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "must not contain control characters";
  if (/[\ud800-\udfff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""))) return "must be valid Unicode (no lone surrogates)";
  return undefined;
}
