import { z } from "zod";
import type { SessionIO } from "../../channels/index.js";
import { notFound } from "../../errors/index.js";
import { limits } from "../../limits.js";
import { durationSchema, tagsSchema } from "../../sessions/index.js";
import type { Waitpoint } from "../../waitpoints/index.js";
import { assertPendingWaitpointRoom } from "../../waitpoints/index.js";
import type { Context } from "../context.js";
import { environmentId, liveCaller, principal } from "./common.js";
import { readableSession, requireSession } from "./sessions.js";

const MAX_TIMEOUT_MS = limits.waitpointTimeoutMs;

/** CreateWaitpointInput, checked and transformed by the validation plugin (graphql/schema/waitpoint.ts). */
export const createWaitpointSchema = z.object({
  session: z.string(),
  io: z.enum(["OUT", "IN"]),
  afterSeqNum: z.number().int().min(0).nullish(),
  timeout: durationSchema("timeout", MAX_TIMEOUT_MS).nullish(),
  idempotencyKey: z.string().min(1, "idempotencyKey must not be empty").max(256, "idempotencyKey is at most 256 characters").nullish(),
  tags: tagsSchema.nullish(),
  // Its form is checked here, where it may go by the callbacks' URL policy (which resolves the name).
  callbackUrl: z.string().max(limits.callbackUrlLength, `callbackUrl is at most ${limits.callbackUrlLength} characters`).nullish(),
});

export async function createSessionWaitpoint(ctx: Context, parsed: z.output<typeof createWaitpointSchema>) {
  const session = await requireSession(ctx, parsed.session);
  await assertPendingWaitpointRoom(ctx.services, session.id, parsed.io);
  const callbackUrl = parsed.callbackUrl == null ? undefined : await ctx.services.callbacks.checkUrl(parsed.callbackUrl);
  return ctx.services.waitpoints.create(session, {
    io: parsed.io,
    afterSeqNum: parsed.afterSeqNum ?? undefined,
    timeoutMs: parsed.timeout ?? 3_600_000,
    idempotencyKey: parsed.idempotencyKey ?? undefined,
    keyOwner: principal(ctx).credential.kind === "token" ? "token" : "secret",
    tags: parsed.tags ?? [],
    callbackUrl,
  });
}

/** The environment's "whsec_..." secret that signs its callbacks (made on first use). Never logged. */
export const webhookSigningSecret = (ctx: Context) => ctx.services.callbacks.secrets.current(environmentId(ctx));

type Callback = NonNullable<Waitpoint["callback"]>;
export const callbackStatus = (c: Pick<Callback, "status">) => c.status as "PENDING" | "DELIVERED" | "FAILED";

/** A waitpoint whose session the caller may read, else null: unreadable looks exactly like unknown. */
export async function findWaitpoint(ctx: Context, id: string): Promise<Waitpoint | null> {
  const waitpoint = await ctx.services.waitpoints.find(environmentId(ctx), id);
  return waitpoint && (await readableSession(ctx, waitpoint.sessionId)) ? waitpoint : null;
}

export function waitpointRecord(w: Waitpoint) {
  return w.recordSeqNum === null
    ? null
    : { seqNum: Number(w.recordSeqNum), timestamp: w.recordTimestamp ?? w.completedAt ?? w.createdAt, data: w.recordData };
}

export const waitpointIo = (w: Waitpoint) => w.io as SessionIO;

/**
 * The waitpoint now, then after each change a subscriber is told about, until nothing more will
 * change (see waitpointChanges); NOT_FOUND when the caller may not see it.
 */
export async function watchWaitpoint(ctx: Context, id: string) {
  const changes = await ctx.services.waitpoints.changes(id, () => findWaitpoint(ctx, id));
  if (!changes) throw notFound(`waitpoint ${JSON.stringify(id)}`);
  return ctx.services.live.guard(liveCaller(ctx), changes, { sessionId: changes.first.sessionId, onEnd: () => changes.stop() });
}
