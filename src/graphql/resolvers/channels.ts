import { appendAction, audit, can, canNamed, type Principal } from "../../auth/index.js";
import type { ChannelKey, SessionIO } from "../../channels/index.js";
import { badInput, notFound, unauthenticated } from "../../errors/index.js";
import { limits } from "../../limits.js";
import { sessionStatus, type Session } from "../../sessions/index.js";
import type { Context } from "../context.js";
import { environmentId, liveCaller, principal } from "./common.js";
import { requireSession } from "./sessions.js";

/** Fails with RECORDS_TRIMMED from below the head: the store decides it with the read itself, so a trim racing the read cannot make it skip. */
export async function readRecords(ctx: Context, channel: ChannelKey, args: { fromSeqNum?: number | null; limit?: number | null }) {
  const limit = args.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badInput("limit must be between 1 and 1000");
  return ctx.services.store.read(channel, args.fromSeqNum ?? 0, limit);
}

/** The stored head: the first seqNum still stored, the tail when nothing is. */
export const headSeqNum = (ctx: Context, channel: ChannelKey) => ctx.services.store.head(channel);

/** Needs write (the scope check); allowed on a closed session too: it removes, it adds nothing. */
export async function trimSessionChannel(ctx: Context, args: { id: string; io: SessionIO; beforeSeqNum: number }) {
  const session = await requireSession(ctx, args.id);
  const channel = { sessionId: session.id, io: args.io };
  const head = await ctx.services.lifecycle.trimmer.trim(channel, args.beforeSeqNum, "api");
  audit(ctx.services.logger, "channel.trimmed", {
    environmentId: session.environmentId,
    requestId: ctx.requestId,
    credential: principal(ctx).credential.kind,
    sessionId: session.id,
    io: args.io,
    headSeqNum: head,
  });
  return { session, io: args.io };
}

export async function appendToSession(
  ctx: Context,
  args: { id: string; io: SessionIO; records: { data?: unknown }[]; matchSeqNum?: number | null; idempotencyKey?: string | null },
) {
  // When the caller's scopes cover the name itself (or every session), the session is found inside
  // the append: no lookup of its own on the hottest path, and whichever session holds the name now
  // is the one the scope covers. Otherwise the scope check cleared one particular session, the one
  // the request's cache holds under this name: the append goes to that one, by its friendly id,
  // never to a session that has taken the name since (a rename or a delete in between).
  const ref = canNamed(principal(ctx).grants, appendAction(args.io), args.id) ? args.id : (await requireSession(ctx, args.id)).id;
  return ctx.services.writer.append(
    { environmentId: environmentId(ctx), ref },
    args.io,
    args.records.map((r) => r.data),
    { matchSeqNum: args.matchSeqNum, idempotencyKey: args.idempotencyKey },
  );
}

/**
 * Direct access is never more than the caller has through the API: write only with write scope
 * and while the session takes writes, and never past the caller's own token (nor, for writing,
 * past the session's expiry).
 */
export async function initializeSessionChannel(ctx: Context, ref: string, io: SessionIO) {
  const caller = principal(ctx);
  const { grants, credential } = caller;
  let session = await requireSession(ctx, ref);
  for (;;) {
    // Recorded, so that a close, a rename or a revocation revokes it at the store (ChannelAccessGrants).
    const ops = directOps(caller, session, io);
    const ends = [Date.now() + limits.channelAccessTtlMs];
    if (credential.kind === "token") ends.push(credential.expiresAt);
    if (ops === "write" && session.expiresAt) ends.push(session.expiresAt.getTime());
    const access = await ctx.services.accessGrants.issue(caller, session.environmentId, { sessionId: session.id, io }, ops, new Date(Math.min(...ends)));
    const shaped = { io, ...access, basin: access.basin ?? null, endpoint: access.endpoint ?? null, accessToken: access.accessToken ?? null, expiresAt: access.expiresAt ?? null };
    if (!access.grantId) return shaped;
    // A close, rename or revocation committed while this was issued revoked the grants recorded by
    // then, not this one: now that it is recorded, the rights it was given under are read again.
    const [now, environment] = await Promise.all([
      ctx.services.sessions.find(session.environmentId, session.id),
      ctx.services.prisma.environment.findUnique({ where: { id: session.environmentId }, select: { tokensRevokedBefore: true } }),
    ]);
    const revoked = credential.kind === "token" && credential.issuedAt < (environment?.tokensRevokedBefore?.getTime() ?? 0);
    const readable = now !== null && can(grants, "read", now);
    if (!revoked && readable && (ops === "read" || directOps(caller, now, io) === "write")) return shaped;
    await ctx.services.accessGrants.revoke({ id: access.grantId });
    if (revoked) throw unauthenticated("access token revoked");
    if (!readable) throw notFound(`session ${JSON.stringify(ref)}`);
    // Closed meanwhile: read access, as it would have been a moment later.
    session = now;
  }
}

/** What direct access to a channel of `session` may do for `caller`: what appending through the API needs, on a session that takes writes. */
const directOps = ({ grants }: Principal, session: Session, io: SessionIO) =>
  can(grants, appendAction(io), session) && sessionStatus(session) === "ACTIVE" ? "write" : "read";

export async function subscribeRecords(ctx: Context, args: { id: string; io: SessionIO; fromSeqNum?: number | null }) {
  const session = await requireSession(ctx, args.id);
  const channel = { sessionId: session.id, io: args.io };
  // The first record from fromSeqNum, read before anything streams: the read itself refuses a start
  // below the head (RECORDS_TRIMMED, at once; a trim after this is met by the replay), and the record
  // goes out without waiting for the rest of the replay.
  const first = args.fromSeqNum != null ? await ctx.services.store.read(channel, args.fromSeqNum, 1) : [];
  const records = ctx.services.fanout.subscribe(
    channel,
    args.fromSeqNum ?? undefined,
    async () => (await ctx.services.sessions.find(session.environmentId, session.id))?.closedAt != null,
    first,
  );
  return ctx.services.live.guard(liveCaller(ctx), records, { sessionId: session.id });
}
