import type { z } from "zod";
import type { Principal } from "../../auth/index.js";
import type { Context } from "../context.js";
import { badInput, unauthenticated } from "../../errors/index.js";

/** Resolvers run after the scope checks, so a principal is always there; this keeps types honest. */
export function principal(ctx: Context): Principal {
  if (!ctx.auth.principal) throw unauthenticated(ctx.auth.failure);
  return ctx.auth.principal;
}

export const environmentId = (ctx: Context): string => principal(ctx).environmentId;

/** zod's first issue becomes the client's BAD_USER_INPUT message, naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join(".");
  throw badInput(path && !issue.message.startsWith(path) ? `${path}: ${issue.message}` : issue.message);
}

/** What a live subscription needs to re-check its caller's rights as it goes (see LiveAccess). */
export const liveCaller = (ctx: Context) => ({ principal: principal(ctx), reauthenticate: ctx.reauthenticate });
