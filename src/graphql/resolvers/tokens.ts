import { z } from "zod";
import { audit, randomToken, scopeSchema, signAccessToken } from "../../auth/index.js";
import { limits } from "../../limits.js";
import { durationSchema } from "../../sessions/index.js";
import type { Context } from "../context.js";
import { environmentId } from "./common.js";

const MAX_TOKEN_LIFETIME_MS = limits.tokenLifetimeMs;

/** createPublicAccessToken's arguments, checked by the validation plugin (graphql/schema/token.ts). */
export const tokenRequestSchema = z.object({
  scopes: z.array(scopeSchema).min(1, "scopes must name at least one scope").max(limits.scopesPerToken, `at most ${limits.scopesPerToken} scopes`),
  // null, as GraphQL lets a client send it, means the default too.
  expiresIn: z
    .string()
    .nullish()
    .transform((s) => s ?? "15m")
    .pipe(durationSchema("expiresIn", MAX_TOKEN_LIFETIME_MS)),
});

export async function createPublicAccessToken(ctx: Context, { scopes, expiresIn }: z.output<typeof tokenRequestSchema>) {
  const envId = environmentId(ctx);
  const key = await ctx.services.signingKeys.active(envId);
  const now = Date.now();
  // iat in milliseconds (see access-tokens.ts); exp in whole seconds, and the reported expiry is the
  // one the token carries.
  const exp = Math.floor((now + expiresIn) / 1000);
  const jti = `tok_${randomToken(24)}`;
  const token = await signAccessToken(key, { sub: envId, scopes, iat: now / 1000, exp, jti });
  const expiresAt = new Date(exp * 1000);
  audit(ctx.services.logger, "token.minted", { environmentId: envId, requestId: ctx.requestId, jti, kid: key.kid, scopes, expiresAt });
  return { token, scopes, expiresAt };
}

export async function revokePublicAccessTokens(ctx: Context) {
  const envId = environmentId(ctx);
  const before = await ctx.services.revokeTokens(envId);
  const revokedBefore = new Date(before);
  await ctx.services.accessGrants.tokensRevoked(envId, revokedBefore);
  audit(ctx.services.logger, "tokens.revoked", { environmentId: envId, requestId: ctx.requestId, revokedBefore });
  return { revokedBefore };
}
