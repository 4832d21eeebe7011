import { decodeJwt, jwtVerify, SignJWT } from "jose";
import { z } from "zod";

const claimsSchema = z.object({
  sub: z.string().min(1),
  scopes: z.array(z.string()),
  exp: z.number(),
  iat: z.number().optional(),
});
export type AccessTokenClaims = z.infer<typeof claimsSchema>;

const key = (secret: string) => new TextEncoder().encode(secret);

export async function signAccessToken(secret: string, claims: AccessTokenClaims): Promise<string> {
  return new SignJWT({ scopes: claims.scopes })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(claims.exp)
    .sign(key(secret));
}

/** The environment a token claims to belong to, read before its signature can be checked. */
export function unverifiedSubject(token: string): string | undefined {
  try {
    return claimsSchema.shape.sub.safeParse(decodeJwt(token).sub).data;
  } catch {
    return undefined;
  }
}

export async function verifyAccessToken(secret: string, token: string): Promise<AccessTokenClaims> {
  const { payload } = await jwtVerify(token, key(secret), { algorithms: ["HS256"] });
  return claimsSchema.parse(payload);
}
