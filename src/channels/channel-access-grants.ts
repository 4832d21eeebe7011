import type { Principal } from "../auth/index.js";
import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import type { ChannelKey, StreamStore } from "./stream-store.js";

/**
 * Direct channel access (an S2 stream token) lives outside this service once handed out, so each
 * grant is recorded until it expires, and revoked at the store when the rights it was given under
 * end: a close ends write access, a rename ends access by the old name, a revocation ends what the
 * revoked tokens were given. Done by the node that handles the change: the store is shared.
 */
export class ChannelAccessGrants {
  constructor(
    private prisma: PrismaClient,
    private store: StreamStore,
    private onError: (error: unknown) => void,
  ) {}

  /** Access from the store for `principal`, recorded when the store gave a revocable token. */
  async issue(principal: Principal, environmentId: string, channel: ChannelKey, ops: "read" | "write", expiresAt: Date) {
    const access = await this.store.access(channel, ops, expiresAt);
    if (access.grantId) {
      const { credential } = principal;
      await this.prisma.channelAccessGrant.create({
        data: {
          id: access.grantId,
          environmentId,
          ...channel,
          write: ops === "write",
          credentialKind: credential.kind,
          credentialIssuedAt: credential.kind === "token" ? new Date(credential.issuedAt) : null,
          expiresAt: access.expiresAt ?? expiresAt,
        },
      });
    }
    return access;
  }

  /** The session was closed: it takes no writes, directly or not. */
  sessionClosed = (sessionId: string) => this.revoke({ sessionId, write: true });

  /** The session was renamed: whoever held it by its old name must ask again. */
  sessionRenamed = (sessionId: string) => this.revoke({ sessionId });

  /** The environment's public tokens issued before `before` were revoked, and with them what they were given. */
  tokensRevoked = (environmentId: string, before: Date) =>
    this.revoke({ environmentId, credentialKind: "token", credentialIssuedAt: { lt: before } });

  /**
   * Revokes the unexpired grants matching `where` at the store, and forgets them. A grant the
   * store could not revoke is kept and logged: it is tried again by the next change that matches it.
   */
  async revoke(where: Prisma.ChannelAccessGrantWhereInput): Promise<number> {
    const grants = await this.prisma.channelAccessGrant.findMany({ where: { ...where, expiresAt: { gt: new Date() } }, select: { id: true } });
    if (grants.length === 0) return 0;
    const ids = grants.map((g) => g.id);
    try {
      await this.store.revokeAccess(ids);
    } catch (error) {
      this.onError(error);
      return 0;
    }
    await this.prisma.channelAccessGrant.deleteMany({ where: { id: { in: ids } } });
    return ids.length;
  }

}
