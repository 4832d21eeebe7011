import { isUniqueViolation } from "../db/index.js";
import { badInput } from "../errors/index.js";
import { Prisma, type PrismaClient, type Session } from "../generated/prisma/client.js";
import { isSessionId, newSessionId } from "./ids.js";

export type { Session };

export interface NewSession {
  type: string;
  externalId?: string | null;
  taskIdentifier?: string | null;
  tags?: string[] | null;
  metadata?: unknown;
  expiresAt: Date | null;
  /** Records older than this are trimmed from both channels; null: the service's RECORD_RETENTION. */
  recordRetentionMs?: number | null;
}

export interface SessionPatch {
  tags?: string[] | null;
  /** undefined keeps the metadata, null clears it. */
  metadata?: unknown;
  /** undefined keeps the name, null clears it. */
  externalId?: string | null;
}

const jsonValue = (v: unknown) => (v === null ? Prisma.DbNull : (v as Prisma.InputJsonValue));

/** Point reads and writes of session rows, always inside one environment. */
export class SessionStore {
  constructor(private prisma: PrismaClient) {}

  /** A friendly id, or else the caller's own externalId. */
  /**
   * Awaited here so callers hold a plain promise: Prisma's own keeps the Error it captured for its
   * call site, and a request's session cache (held by a live subscription for its whole life) would
   * keep that too, about 2 kB per subscription.
   */
  async find(environmentId: string, ref: string): Promise<Session | null> {
    return isSessionId(ref)
      ? await this.prisma.session.findFirst({ where: { id: ref, environmentId } })
      : await this.prisma.session.findUnique({ where: { environmentId_externalId: { environmentId, externalId: ref } } });
  }

  /** By friendly id in any environment: for checks that already know whose session it is. */
  byId(id: string): Promise<Session | null> {
    return this.prisma.session.findUnique({ where: { id } });
  }

  /** Sessions by id, those of them that also meet `where`. */
  findMany(environmentId: string, ids: string[], where: Prisma.SessionWhereInput = {}): Promise<Session[]> {
    return this.prisma.session.findMany({ where: { ...where, environmentId, id: { in: ids } } });
  }

  /**
   * Idempotent by externalId: the unique index decides between concurrent creates, so exactly
   * one of them inserts and every other returns that row as cached.
   */
  async create(environmentId: string, input: NewSession): Promise<{ session: Session; isCached: boolean }> {
    if (input.externalId) {
      const existing = await this.find(environmentId, input.externalId);
      if (existing) return { session: existing, isCached: true };
    }
    try {
      const session = await this.prisma.session.create({
        data: {
          id: newSessionId(),
          environmentId,
          type: input.type,
          externalId: input.externalId ?? null,
          taskIdentifier: input.taskIdentifier ?? null,
          tags: input.tags ?? [],
          metadata: input.metadata === undefined ? Prisma.DbNull : jsonValue(input.metadata),
          expiresAt: input.expiresAt,
          recordRetentionMs: input.recordRetentionMs == null ? null : BigInt(input.recordRetentionMs),
        },
      });
      return { session, isCached: false };
    } catch (error) {
      if (!input.externalId || !isUniqueViolation(error)) throw error;
      const winner = await this.find(environmentId, input.externalId);
      if (!winner) throw error;
      return { session: winner, isCached: true };
    }
  }

  async update(session: Session, patch: SessionPatch): Promise<Session> {
    try {
      return await this.prisma.session.update({
        where: { id: session.id },
        data: {
          ...(patch.tags != null && { tags: patch.tags }),
          ...(patch.metadata !== undefined && { metadata: jsonValue(patch.metadata) }),
          ...(patch.externalId !== undefined && { externalId: patch.externalId }),
          updatedAt: new Date(),
        },
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw badInput(`externalId "${patch.externalId}" is used by another session`);
      throw error;
    }
  }

  /** Write-once: a conditional update, so of concurrent closes only the first sets closedAt/reason. */
  async close(session: Session, reason: string | null): Promise<{ session: Session; changed: boolean }> {
    const now = new Date();
    const { count } = await this.prisma.session.updateMany({
      where: { id: session.id, closedAt: null },
      data: { closedAt: now, closedReason: reason, updatedAt: now },
    });
    const current = await this.prisma.session.findUniqueOrThrow({ where: { id: session.id } });
    return { session: current, changed: count === 1 };
  }
}
