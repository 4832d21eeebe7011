import { setTimeout as sleep } from "node:timers/promises";
import type { PrismaClient } from "../generated/prisma/client.js";

/**
 * Revokes every public access token of the environment issued until now: tokens whose `iat`
 * (milliseconds) is before the returned instant are refused from then on. The instant is one
 * millisecond past the clock at the call, and the call returns only once the clock has passed it,
 * so a token minted before the call is refused and one minted after it is not, even within the same
 * millisecond. A later revocation never moves the instant back (another node's clock may be behind).
 */
export async function revokeTokens(prisma: PrismaClient, environmentId: string): Promise<number> {
  const before = new Date(Date.now() + 1);
  await prisma.environment.updateMany({
    where: { id: environmentId, OR: [{ tokensRevokedBefore: null }, { tokensRevokedBefore: { lt: before } }] },
    data: { tokensRevokedBefore: before },
  });
  const { tokensRevokedBefore } = await prisma.environment.findUniqueOrThrow({ where: { id: environmentId }, select: { tokensRevokedBefore: true } });
  const revokedBefore = tokensRevokedBefore?.getTime() ?? before.getTime();
  while (Date.now() < before.getTime()) await sleep(1);
  return revokedBefore;
}
