import type { z } from "zod";
import type { Context } from "../context.js";
import { badInput, unauthenticated } from "../errors.js";

/** Resolvers run after the scope checks, so a principal is always there; this keeps types honest. */
export function environmentId(ctx: Context): string {
  if (!ctx.auth.principal) throw unauthenticated(ctx.auth.failure);
  return ctx.auth.principal.environmentId;
}

/** zod's first issue becomes the client's BAD_USER_INPUT message, naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join(".");
  throw badInput(path && !issue.message.startsWith(path) ? `${path}: ${issue.message}` : issue.message);
}
