import { z } from "zod";
import { signAccessToken } from "../auth/access-tokens.js";
import { scopeSchema } from "../auth/scopes.js";
import type { Context } from "../context.js";
import { durationSchema } from "../sessions/validation.js";
import { environmentId, parseInput } from "./common.js";

import { limits } from "../limits.js";
const MAX_TOKEN_LIFETIME_MS = limits.tokenLifetimeMs;

const tokenRequestSchema = z.object({
  scopes: z.array(scopeSchema).min(1, "scopes must name at least one scope").max(limits.scopesPerToken, `at most ${limits.scopesPerToken} scopes`),
  expiresIn: durationSchema("expiresIn", MAX_TOKEN_LIFETIME_MS),
});

export async function createPublicAccessToken(ctx: Context, args: { scopes: string[]; expiresIn?: string | null }) {
  const { scopes, expiresIn } = parseInput(tokenRequestSchema, { scopes: args.scopes, expiresIn: args.expiresIn ?? "15m" });
  const env = await ctx.services.prisma.environment.findUniqueOrThrow({ where: { id: environmentId(ctx) } });
  // JWT exp has second precision; the reported expiry is the one the token carries.
  const exp = Math.floor((Date.now() + expiresIn) / 1000);
  const token = await signAccessToken(env.jwtSecret, { sub: env.id, scopes, exp });
  return { token, scopes, expiresAt: new Date(exp * 1000) };
}
