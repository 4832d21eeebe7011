import { z } from "zod";
import { nameProblem } from "../sessions/index.js";

/**
 * What a scope allows on a session. `input` is what a chat page needs: read the session, append to
 * its `in` channel (and create it by the name the scope gives); never `out`, which is the agent's,
 * so a page cannot forge the agent's replies.
 */
export type Action = "read" | "input" | "write" | "admin";

/**
 * What a principal may do. Pure data, so the rules below can be tested without a server.
 * `admin` implies write, write implies input, and input implies read: a client that may write to
 * a session must be able to see what it wrote.
 */
export interface Grants {
  /** Actions allowed on every session of the environment. */
  all: ReadonlySet<Action>;
  /** Actions allowed on one session, keyed by friendly id or externalId. */
  sessions: ReadonlyMap<string, ReadonlySet<Action>>;
  /** Only a secret key may mint tokens or manage the environment. */
  secretKey: boolean;
}

const scopePattern = /^(read|input|write|admin):sessions(?::(.{1,256}))?$|^(read|write):all$|^admin$/s;
/** A scope names a session exactly as stored: the same canonical-name rule as externalId. */
export const scopeSchema = z
  .string()
  .regex(scopePattern, { message: "scopes are read|input|write|admin:sessions[:<id>], read:all, write:all or admin" })
  .superRefine((scope, ctx) => {
    const name = scopePattern.exec(scope)?.[2];
    const problem = name === undefined ? undefined : nameProblem(name);
    if (problem) ctx.addIssue({ code: "custom", message: `the session named in scope ${JSON.stringify(scope)} ${problem}` });
  });

const implied: Record<Action, Action[]> = {
  read: ["read"],
  input: ["input", "read"],
  write: ["write", "input", "read"],
  admin: ["admin", "write", "input", "read"],
};

export function grantsFromScopes(scopes: readonly string[]): Grants {
  const all = new Set<Action>();
  const sessions = new Map<string, Set<Action>>();
  for (const scope of scopes) {
    const m = scopePattern.exec(scope);
    if (!m) continue;
    if (m[0] === "admin") implied.admin.forEach((a) => all.add(a));
    else if (m[3]) implied[m[3] as Action].forEach((a) => all.add(a));
    else {
      const actions = implied[m[1] as Action];
      if (m[2] === undefined) actions.forEach((a) => all.add(a));
      else {
        const set = sessions.get(m[2]) ?? new Set<Action>();
        actions.forEach((a) => set.add(a));
        sessions.set(m[2], set);
      }
    }
  }
  return { all, sessions, secretKey: false };
}

export const secretKeyGrants: Grants = {
  all: new Set<Action>(["read", "input", "write", "admin"]),
  sessions: new Map(),
  secretKey: true,
};

/** A session is named by its friendly id or its externalId; a scope may use either. */
export function can(grants: Grants, action: Action, session: { id: string; externalId: string | null }): boolean {
  if (grants.all.has(action)) return true;
  return (
    Boolean(grants.sessions.get(session.id)?.has(action)) ||
    (session.externalId !== null && Boolean(grants.sessions.get(session.externalId)?.has(action)))
  );
}

export const canAll = (grants: Grants, action: Action) => grants.all.has(action);

/** Whether `action` is allowed on whatever session holds `name` (friendly id or externalId), decided by the name alone. */
export const canNamed = (grants: Grants, action: Action, name: string) => canAll(grants, action) || Boolean(grants.sessions.get(name)?.has(action));

/** What appending to a channel needs: `in` is the clients' (input), `out` the agent's (write). */
export const appendAction = (io: "IN" | "OUT"): Action => (io === "IN" ? "input" : "write");
