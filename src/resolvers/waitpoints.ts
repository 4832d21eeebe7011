import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { Context } from "../context.js";
import { notFound } from "../errors.js";
import type { SessionIO } from "../realtime/stream-store.js";
import { waitpointStatus, type Waitpoint } from "../realtime/waitpoints/waitpoint-service.js";
import { durationSchema, tagsSchema } from "../sessions/validation.js";
import { environmentId, parseInput } from "./common.js";
import { requireSession } from "./sessions.js";

import { limits } from "../limits.js";
const MAX_TIMEOUT_MS = limits.waitpointTimeoutMs;

const createWaitpointSchema = z.object({
  session: z.string(),
  io: z.enum(["OUT", "IN"]),
  afterSeqNum: z.number().int().min(0).nullish(),
  timeout: durationSchema("timeout", MAX_TIMEOUT_MS).nullish(),
  idempotencyKey: z.string().min(1, "idempotencyKey must not be empty").max(256, "idempotencyKey is at most 256 characters").nullish(),
  tags: tagsSchema.nullish(),
  callbackUrl: z
    .string()
    .nullish()
    .refine((url) => url == null, "callbackUrl is not available on this server yet (issue #16)"),
});

export async function createSessionWaitpoint(ctx: Context, input: z.input<typeof createWaitpointSchema>) {
  const parsed = parseInput(createWaitpointSchema, input);
  const session = await requireSession(ctx, parsed.session);
  return ctx.services.waitpoints.create(session, {
    io: parsed.io,
    afterSeqNum: parsed.afterSeqNum ?? undefined,
    timeoutMs: parsed.timeout ?? 3_600_000,
    idempotencyKey: parsed.idempotencyKey ?? undefined,
    tags: parsed.tags ?? [],
  });
}

export const findWaitpoint = (ctx: Context, id: string) => ctx.services.waitpoints.find(environmentId(ctx), id);

export function waitpointRecord(w: Waitpoint) {
  return w.recordSeqNum === null
    ? null
    : { seqNum: Number(w.recordSeqNum), timestamp: w.recordTimestamp ?? w.completedAt ?? w.createdAt, data: w.recordData };
}

export const waitpointIo = (w: Waitpoint) => w.io as SessionIO;

/** The waitpoint now, then once more when it completes or times out; then the stream ends. */
export async function* watchWaitpoint(ctx: Context, id: string): AsyncGenerator<Waitpoint> {
  const first = await findWaitpoint(ctx, id);
  if (!first) throw notFound(`waitpoint ${JSON.stringify(id)}`);
  yield first;
  if (waitpointStatus(first) !== "PENDING") return;
  const ticks = ctx.services.waitpoints.watchers.watch(id);
  const deadline = new AbortController();
  // Wakes the loop at the deadline even if no sweeper signal arrives.
  void sleep(Math.max(0, first.timeoutAt.getTime() - Date.now()) + 5, undefined, { signal: deadline.signal })
    .then(() => ticks.push())
    .catch(() => {});
  try {
    while (!(await ticks.next()).done) {
      const current = await findWaitpoint(ctx, id);
      if (current && waitpointStatus(current) !== "PENDING") {
        yield current;
        return;
      }
    }
  } finally {
    deadline.abort();
    await ticks.return();
  }
}
