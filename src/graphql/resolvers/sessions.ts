import type { GraphQLResolveInfo } from "graphql";
import type { z } from "zod";
import { audit, can } from "../../auth/index.js";
import { badInput, forbidden, notFound } from "../../errors/index.js";
import { limits } from "../../limits.js";
import { sessionChanged, topics } from "../../live/index.js";
import type { createSessionInputSchema, Session, updateSessionInputSchema } from "../../sessions/index.js";
import { encodeCursor, toListQuery, type ListArgs } from "../../sessions/index.js";
import type { Context } from "../context.js";
import { environmentId, liveCaller, principal } from "./common.js";
import { selects } from "./selection.js";

/** Loads a session the auth scope already cleared; missing means NOT_FOUND. `fresh` skips the request's cache. */
export async function requireSession(ctx: Context, ref: string, options: { fresh?: boolean } = {}): Promise<Session> {
  const session = options.fresh ? await ctx.services.sessions.find(environmentId(ctx), ref) : await ctx.loadSession(ref);
  if (!session) throw notFound(`session ${JSON.stringify(ref)}`);
  return session;
}

/** A session the caller may read, else null: to the caller, an unreadable session does not exist. */
export async function readableSession(ctx: Context, ref: string): Promise<Session | null> {
  const session = await ctx.loadSession(ref);
  return session && can(principal(ctx).grants, "read", session) ? session : null;
}

/** `input` as CreateSessionInput's schema made it (see graphql/schema/session.ts). */
export async function createSession(ctx: Context, input: z.output<typeof createSessionInputSchema>) {
  return ctx.services.sessions.create(environmentId(ctx), input);
}

export async function updateSession(ctx: Context, ref: string, patch: z.output<typeof updateSessionInputSchema>) {
  const before = await requireSession(ctx, ref);
  const session = await ctx.services.sessions.update(before, patch);
  // Renames change who may see the session: its live subscriptions re-check on this signal.
  ctx.services.signals.publish(sessionChanged(session));
  if (before.externalId !== session.externalId) {
    await ctx.services.accessGrants.sessionRenamed(session.id);
    audit(ctx.services.logger, "session.renamed", { ...auditOf(ctx), sessionId: session.id, from: before.externalId, to: session.externalId });
  }
  return session;
}

export async function closeSession(ctx: Context, ref: string, reason: string | null | undefined) {
  const { session, changed } = await ctx.services.sessions.close(await requireSession(ctx, ref), reason ?? null);
  if (changed) {
    ctx.services.signals.publish(sessionChanged(session));
    await ctx.services.accessGrants.sessionClosed(session.id);
    audit(ctx.services.logger, "session.closed", { ...auditOf(ctx), sessionId: session.id, reason: session.closedReason });
  }
  return session;
}

/**
 * Idempotent: a session that is not there (never was, or deleted already) answers deleted false.
 * Looked up afresh, not from the request's cache: a delete must see a delete made a moment ago.
 */
export async function deleteSession(ctx: Context, ref: string) {
  const session = await ctx.services.sessions.find(environmentId(ctx), ref);
  if (!session) return { id: ref, deleted: false };
  // The scope check may have cleared another session: the one the request's cache held under this
  // name, which has since been deleted or renamed (an earlier field of the same mutation, or another
  // client meanwhile). The session found now is the one deleted, so the check is made on it.
  const { grants } = principal(ctx);
  if (!can(grants, "admin", session)) {
    if (can(grants, "read", session)) throw forbidden("this token's scopes do not cover deleting the session");
    return { id: ref, deleted: false };
  }
  const deleted = await ctx.services.lifecycle.deleter.delete(session.id, "api");
  if (deleted) audit(ctx.services.logger, "session.deleted", { ...auditOf(ctx), sessionId: session.id, externalId: session.externalId });
  return { id: session.id, deleted };
}

/** Who did it, for the audit trail: the environment, the request, and the kind of credential. */
const auditOf = (ctx: Context) => ({ environmentId: environmentId(ctx), requestId: ctx.requestId, credential: principal(ctx).credential.kind });

export async function listSessions(ctx: Context, args: ListArgs, info: GraphQLResolveInfo) {
  const env = environmentId(ctx);
  const query = toListQuery(args);
  // Counted only when asked for, since it is the expensive half of a list, and then alongside the page.
  const count = selects(info, "totalCount") ? ctx.services.sessionsRepository.count(env, query) : undefined;
  // A failed count is reported where totalCount resolves, not as an unhandled rejection.
  count?.catch(() => {});
  const page = await ctx.services.sessionsRepository.list(env, query);
  const edges = page.rows.map((node) => ({ cursor: encodeCursor(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: () => count ?? ctx.services.sessionsRepository.count(env, query),
  };
}

export async function sessionTags(ctx: Context, args: { search?: string | null; first?: number | null }) {
  const first = args.first ?? 50;
  if (!Number.isInteger(first) || first < 1 || first > limits.tagPageMax) {
    throw badInput(`first must be between 1 and ${limits.tagPageMax}`);
  }
  return ctx.services.sessionsRepository.tags(environmentId(ctx), args.search ?? undefined, first);
}

const time = (d: Date | null) => d?.getTime() ?? null;
/** Nothing a sessionChanged subscriber sees differs (updatedAt alone could miss two updates in one millisecond). */
const sameSession = (a: Session, b: Session) =>
  time(a.updatedAt) === time(b.updatedAt) &&
  time(a.closedAt) === time(b.closedAt) &&
  time(a.expiresAt) === time(b.expiresAt) &&
  a.externalId === b.externalId &&
  a.closedReason === b.closedReason &&
  a.tags.join("\u0000") === b.tags.join("\u0000") &&
  JSON.stringify(a.metadata) === JSON.stringify(b.metadata);

/**
 * The session now, then again after each change, read afresh each time. The watch is registered
 * before the first read, so a change in between is seen; each event is checked against the
 * caller's rights as it is then (see LiveAccess).
 */
export async function watchSession(ctx: Context, ref: string) {
  const { id, environmentId } = await requireSession(ctx, ref);
  const ticks = ctx.services.sessionWatch.watch(topics.session(id));
  async function* changes() {
    try {
      let last = await requireSession(ctx, id, { fresh: true });
      yield last;
      for await (const _tick of ticks) {
        const current = await ctx.services.sessions.find(environmentId, id);
        // Gone: deleted. LiveAccess ends the subscription with NOT_FOUND (it re-reads on the same signal).
        if (!current) throw notFound(`session ${JSON.stringify(ref)}`);
        // A tick that changed nothing (one that only says other nodes' changes are now heard) shows nothing.
        if (sameSession(current, last)) continue;
        yield (last = current);
      }
    } finally {
      await ticks.return();
    }
  }
  return ctx.services.live.guard(liveCaller(ctx), changes(), { sessionId: id, sessionOf: (session) => session, onEnd: () => void ticks.return() });
}
