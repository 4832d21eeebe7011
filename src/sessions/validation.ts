import { z } from "zod";
import { parseDuration } from "../duration.js";
import { limits } from "../limits.js";
import { jsonProblem } from "../text.js";
import { SESSION_ID_PREFIX } from "./ids.js";
import { nameProblem } from "./names.js";

const text = (name: string, max: number) =>
  z.string().trim().min(1, `${name} must not be empty`).max(max, `${name} is at most ${max} characters`);

/** Never trimmed: a name is matched exactly by scopes and lookups, so it must already be canonical. */
export const externalIdSchema = z
  .string()
  .max(limits.externalIdLength, `externalId is at most ${limits.externalIdLength} characters`)
  .superRefine((s, ctx) => {
    const problem = nameProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: `externalId ${problem}` });
    else if (s.startsWith(SESSION_ID_PREFIX)) ctx.addIssue({ code: "custom", message: `externalId must not start with "${SESSION_ID_PREFIX}"` });
  });

export const tagsSchema = z
  .array(text("a tag", limits.tagLength))
  .max(limits.tagsPerSession, `at most ${limits.tagsPerSession} tags`)
  .transform((tags) => [...new Set(tags)]);

export const metadataSchema = z
  .unknown()
  .superRefine((v, ctx) => {
    // Depth first: JSON.stringify below would overflow the stack on a value nested too deep.
    // Metadata is jsonb in PostgreSQL whichever store holds records, so NUL is refused too.
    const problem = jsonProblem(v, { nul: true });
    if (problem) ctx.addIssue({ code: "custom", message: `metadata: ${problem}` });
    else if (Buffer.byteLength(JSON.stringify(v) ?? "null") > limits.metadataBytes) {
      ctx.addIssue({ code: "custom", message: `metadata is at most ${limits.metadataBytes} bytes of JSON` });
    }
  });

export const durationSchema = (name: string, maxMs: number) =>
  z
    .string()
    .transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === undefined) ctx.addIssue({ code: "custom", message: `${name} must be a duration like "30s", "15m", "6h" or "7d"` });
      else if (ms > maxMs) ctx.addIssue({ code: "custom", message: `${name} is at most ${Math.floor(maxMs / 86_400_000)}d` });
      return ms ?? 0;
    });

export const createSessionInputSchema = z
  .object({
    type: text("type", limits.typeLength),
    externalId: externalIdSchema.nullish(),
    taskIdentifier: text("taskIdentifier", limits.taskIdentifierLength).nullish(),
    tags: tagsSchema.nullish(),
    metadata: metadataSchema.nullish(),
    expiresAt: z.date().nullish(),
    ttl: durationSchema("ttl", limits.maxTtlMs).nullish(),
    recordRetention: durationSchema("recordRetention", limits.recordRetentionMaxMs).nullish(),
  })
  .transform(({ ttl, expiresAt, recordRetention, ...rest }, ctx) => {
    const expiry = expiresAt ?? (ttl ? new Date(Date.now() + ttl) : null);
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      ctx.addIssue({ code: "custom", path: ["expiresAt"], message: "expiresAt must be in the future" });
    }
    return { ...rest, expiresAt: expiry, recordRetentionMs: recordRetention ?? null };
  });
export type CreateSessionInput = z.input<typeof createSessionInputSchema>;

export const updateSessionInputSchema = z.object({
  tags: tagsSchema.nullish(),
  metadata: metadataSchema.optional(),
  externalId: externalIdSchema.nullish(),
});

export const closedReasonSchema = text("reason", limits.closedReasonLength).nullish();
