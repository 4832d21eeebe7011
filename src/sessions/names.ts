import { textProblem } from "../text.js";

/**
 * A session's name (its externalId) is matched byte for byte: by scopes, by lookups and by the
 * unique index. So a name is refused unless it is already in its one canonical form, rather than
 * normalized in some places and not others (a token for "  alice  " must never reach "alice").
 * On top of what any stored text must be (textProblem), a name has no edge white space and no
 * control characters.
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name !== name.trim()) return "must not start or end with white space";
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(name)) return "must not contain control characters";
  return textProblem(name);
}
