import SchemaBuilder from "@pothos/core";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import SimpleObjectsPlugin from "@pothos/plugin-simple-objects";
import ValidationPlugin from "@pothos/plugin-validation";
import { can, canAll, canNamed, type Action } from "../../auth/index.js";
import { badInput, forbidden, unauthenticated } from "../../errors/index.js";
import type { Session } from "../../sessions/index.js";
import { isSessionId, isWaitpointId } from "../../sessions/index.js";
import type { Context } from "../context.js";

/** A session named by reference (friendly id or externalId) or already loaded. */
export interface SessionAccess {
  action: Action;
  session: Session | string;
}

export interface SchemaTypes {
  Context: Context;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    SeqNum: { Input: number; Output: number };
  };
  AuthScopes: {
    authenticated: boolean;
    secretKey: boolean;
    readAll: boolean;
    writeAll: boolean;
    session: SessionAccess;
    /**
     * Creating a session that may not exist yet, by the name a scope gives it: input (or more)
     * over that name, so the page of a chat may start its conversation.
     */
    createNamed: string;
    /**
     * Giving a session a new externalId (or none: null) needs admin over it under its new name,
     * so a name-scoped token can neither take over a name it does not hold nor shed its own
     * name to create another session under it.
     */
    rename: { session: string; externalId: string | null };
  };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}

/** The first problem of an input, named by where it is (e.g. `input.tags.0: a tag must not be empty`). */
function validationMessage(issues: readonly { message: string; path?: readonly (PropertyKey | { key: PropertyKey })[] }[]): string {
  const issue = issues[0];
  if (!issue) return "invalid input";
  const keys = (issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p));
  // Messages that already name what they are about ("externalId is at most …") stand alone.
  const named = keys.filter((k) => !/^\d+$/.test(k)).at(-1);
  return keys.length === 0 || (named !== undefined && issue.message.startsWith(named)) ? issue.message : `${keys.join(".")}: ${issue.message}`;
}

export const builder = new SchemaBuilder<SchemaTypes>({
  plugins: [ScopeAuthPlugin, SimpleObjectsPlugin, RelayPlugin, ValidationPlugin],
  defaultFieldNullability: false,
  // Inputs are checked (and transformed: durations to ms, tags deduplicated) by the zod schemas their
  // types and arguments name, before any rule or resolver runs: pure checks, nothing read or written.
  validation: { validationError: (result) => badInput(validationMessage(result.issues)) },
  scopeAuth: {
    authorizeOnSubscribe: true,
    treatErrorsAsUnauthorized: false,
    unauthorizedError: (_parent, ctx, _info, result) =>
      ctx.auth.principal ? forbidden(result.message) : unauthenticated(ctx.auth.failure),
    // Every rule lives here; fields only say which rule applies to them.
    authScopes: (ctx) => {
      const grants = ctx.auth.principal?.grants;
      return {
        authenticated: Boolean(grants),
        secretKey: Boolean(grants?.secretKey),
        readAll: Boolean(grants && canAll(grants, "read")),
        writeAll: Boolean(grants && canAll(grants, "write")),
        createNamed: (name) => Boolean(grants && canNamed(grants, "input", name)),
        rename: async ({ session, externalId }) => {
          if (!grants) return false;
          if (externalId !== null) return canNamed(grants, "admin", externalId);
          // Without a name, only its friendly id can still cover the session.
          const id = isSessionId(session) ? session : (await ctx.loadSession(session))?.id;
          return id !== undefined && canNamed(grants, "admin", id);
        },
        session: async ({ action, session }) => {
          if (!grants) return false;
          // Decided by the name alone when possible, so the hottest paths need no lookup here.
          if (typeof session === "string" && canNamed(grants, action, session)) return true;
          const row = typeof session === "string" ? await ctx.loadSession(session) : session;
          // Unknown sessions: only a caller who could see any session learns that it is missing.
          return row ? can(grants, action, row) : canAll(grants, action);
        },
      };
    },
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    nodesQueryOptions: false,
    nodeQueryOptions: {
      authScopes: { authenticated: true },
      // An id of no known type is simply not found.
      resolve: (_root, args, _ctx, _info, resolveNode) => (args.id.typename === "Unknown" ? null : resolveNode(args.id)),
    },
    // Ids are the contract's friendly ids ("session_…", "waitpoint_…"); their prefix names the type.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => ({
      typename: isSessionId(globalID) ? "Session" : isWaitpointId(globalID) ? "Waitpoint" : "Unknown",
      id: globalID,
    }),
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
