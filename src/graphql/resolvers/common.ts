import type { Principal } from "../../auth/index.js";
import { unauthenticated } from "../../errors/index.js";
import type { Context } from "../context.js";

/** Resolvers run after the scope checks, so a principal is always there; this keeps types honest. */
export function principal(ctx: Context): Principal {
  if (!ctx.auth.principal) throw unauthenticated(ctx.auth.failure);
  return ctx.auth.principal;
}

export const environmentId = (ctx: Context): string => principal(ctx).environmentId;

/** What a live subscription needs to re-check its caller's rights as it goes (see LiveAccess). */
export const liveCaller = (ctx: Context) => ({ principal: principal(ctx), reauthenticate: ctx.reauthenticate, since: ctx.liveSince });
