import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { limits } from "../limits.js";

/**
 * How far in the future a token's `iat` may be: another node's clock may run a little ahead of
 * this one's. Anything later was not issued by a node of this deployment.
 */
export const CLOCK_SKEW_MS = 5_000;

/**
 * `iat` carries milliseconds (a fractional NumericDate, as RFC 7519 allows), so a revocation
 * separates tokens issued before it from those issued right after, even within one second.
 * `exp` stays whole seconds.
 */
const claimsSchema = z
  .object({
    sub: z.string().min(1),
    scopes: z.array(z.string()),
    exp: z.number(),
    iat: z.number(),
    /** Names the token in the audit log; tokens minted before jti existed have none. */
    jti: z.string().optional(),
  })
  .refine((c) => (c.exp - c.iat) * 1000 <= limits.tokenLifetimeMs, { message: "lifetime above the cap", path: ["exp"] });
export type AccessTokenClaims = z.infer<typeof claimsSchema>;

/** Why a token was refused, as the client is told. */
export class AccessTokenError extends Error {}

export async function signAccessToken(key: { kid: string; key: Uint8Array }, claims: Required<AccessTokenClaims>): Promise<string> {
  return new SignJWT({ scopes: claims.scopes })
    .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: key.kid })
    .setSubject(claims.sub)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .setJti(claims.jti)
    .sign(key.key);
}

/** The environment a token claims to belong to and the key it names, read before its signature can be checked. */
export function unverifiedHeader(token: string): { sub: string; kid?: string } | undefined {
  try {
    const sub = claimsSchema.shape.sub.safeParse(decodeJwt(token).sub).data;
    const kid = decodeProtectedHeader(token).kid;
    return sub ? { sub, kid: typeof kid === "string" ? kid : undefined } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks the signature and the claims: `iat` and `exp` present, `iat` not in the future (beyond
 * CLOCK_SKEW_MS), `exp - iat` at most the longest lifetime a token is minted with (30 days).
 * Throws AccessTokenError with what to tell the client.
 */
export async function verifyAccessToken(key: Uint8Array, token: string, now = Date.now()): Promise<AccessTokenClaims> {
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: ["HS256"], requiredClaims: ["sub", "iat", "exp"], currentDate: new Date(now) }));
  } catch (error) {
    const expired = error instanceof Error && "code" in error && error.code === "ERR_JWT_EXPIRED";
    throw new AccessTokenError(expired ? "access token expired" : "invalid access token");
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new AccessTokenError("invalid access token");
  if (claims.data.iat * 1000 > now + CLOCK_SKEW_MS) throw new AccessTokenError("invalid access token");
  return claims.data;
}
