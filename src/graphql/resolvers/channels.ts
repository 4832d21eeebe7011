import { can } from "../../auth/index.js";
import type { Context } from "../context.js";
import { badInput } from "../../errors/index.js";
import { limits } from "../../limits.js";
import { sessionStatus } from "../../sessions/index.js";
import { environmentId, liveCaller, principal } from "./common.js";
import type { ChannelKey, SessionIO } from "../../channels/index.js";
import { requireSession } from "./sessions.js";

export async function readRecords(ctx: Context, channel: ChannelKey, args: { fromSeqNum?: number | null; limit?: number | null }) {
  const limit = args.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badInput("limit must be between 1 and 1000");
  return ctx.services.store.read(channel, args.fromSeqNum ?? 0, limit);
}

/** The first record still stored, or the tail when none is: read, not assumed, since a store may trim. */
export async function headSeqNum(ctx: Context, channel: ChannelKey) {
  const [first] = await ctx.services.store.read(channel, 0, 1);
  return first ? first.seqNum : ctx.services.store.tail(channel);
}

export async function appendToSession(
  ctx: Context,
  args: { id: string; io: SessionIO; records: { data?: unknown }[]; matchSeqNum?: number | null; idempotencyKey?: string | null },
) {
  // The session is found inside the append itself: no lookup of its own on the hottest path.
  return ctx.services.writer.append(
    { environmentId: environmentId(ctx), ref: args.id },
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
  const session = await requireSession(ctx, ref);
  const caller = principal(ctx);
  const { grants, credential } = caller;
  // Recorded, so that a close, a rename or a revocation revokes it at the store (ChannelAccessGrants).
  const ops = can(grants, "write", session) && sessionStatus(session) === "ACTIVE" ? "write" : "read";
  const ends = [Date.now() + limits.channelAccessTtlMs];
  if (credential.kind === "token") ends.push(credential.expiresAt);
  if (ops === "write" && session.expiresAt) ends.push(session.expiresAt.getTime());
  const access = await ctx.services.accessGrants.issue(caller, session.environmentId, { sessionId: session.id, io }, ops, new Date(Math.min(...ends)));
  return { io, ...access, basin: access.basin ?? null, endpoint: access.endpoint ?? null, accessToken: access.accessToken ?? null, expiresAt: access.expiresAt ?? null };
}

export async function subscribeRecords(ctx: Context, args: { id: string; io: SessionIO; fromSeqNum?: number | null }) {
  const session = await requireSession(ctx, args.id);
  const records = ctx.services.fanout.subscribe(
    { sessionId: session.id, io: args.io },
    args.fromSeqNum ?? undefined,
    async () => (await ctx.services.sessions.find(session.environmentId, session.id))?.closedAt != null,
  );
  return ctx.services.live.guard(liveCaller(ctx), records, { sessionId: session.id });
}
