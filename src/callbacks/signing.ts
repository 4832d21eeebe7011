import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { randomToken } from "../auth/index.js";
import type { PrismaClient } from "../generated/prisma/client.js";

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` (the event's, the same on every
 * retry), `webhook-timestamp` (this attempt's, in seconds, so a receiver's replay window accepts a
 * late retry) and `webhook-signature`, one `v1,<base64 HMAC-SHA256 of id.timestamp.body>` per
 * secret, separated by spaces (a receiver accepts any one it knows). Pure.
 */
export function signedHeaders(secrets: readonly string[], id: string, at: Date, body: string): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(" "),
  };
}

/** What seals secrets at rest: the master key (src/auth/master-key.ts). */
export interface Sealer {
  seal(plaintext: Uint8Array, context: string): string;
  unseal(sealed: string, context: string): Uint8Array;
}

export interface WebhookSecretsOptions {
  /** How long a rotated-out secret keeps signing next to the new one. Default 24 h (`limits.webhookSecretGraceMs`). */
  graceMs?: number;
}

/** Binds a sealed secret to its row: a ciphertext copied to another environment does not open. */
const sealContext = (environmentId: string, id: string) => `webhook-secret:${environmentId}:${id}`;
const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

/**
 * Per-environment webhook signing secrets, sealed with the master key in `webhook_secrets`. One is
 * current; a rotation keeps the one it replaces signing alongside for `graceMs`, so receivers can
 * switch at their pace. An environment gets its first secret on first use (asking for it, or its
 * first callback), which is also how environments older than callbacks get one. Secrets are never
 * logged.
 */
export class WebhookSecrets {
  private graceMs: number;

  constructor(
    private prisma: PrismaClient,
    private sealer: Sealer,
    options: WebhookSecretsOptions = {},
  ) {
    this.graceMs = options.graceMs ?? 86_400_000;
  }

  /** The environment's current secret, made on first use. */
  async current(environmentId: string): Promise<string> {
    let row = await this.prisma.webhookSecret.findFirst({ where: { environmentId, signUntil: null } });
    if (!row) {
      // Two nodes may get here at once: the partial unique index keeps one of their secrets.
      await this.prisma.webhookSecret.createMany({ data: [this.newRow(environmentId).row], skipDuplicates: true });
      row = await this.prisma.webhookSecret.findFirstOrThrow({ where: { environmentId, signUntil: null } });
    }
    return this.open(row);
  }

  /** Every secret that signs the environment's callbacks now: the current one first, then rotated-out ones still in their grace. */
  async signing(environmentId: string, now = new Date()): Promise<string[]> {
    const rows = await this.prisma.webhookSecret.findMany({
      where: { environmentId, OR: [{ signUntil: null }, { signUntil: { gt: now } }] },
      orderBy: { createdAt: "desc" },
    });
    const current = rows.find((r) => r.signUntil === null);
    if (!current) return [await this.current(environmentId), ...rows.map((r) => this.open(r))];
    return [current, ...rows.filter((r) => r !== current)].map((r) => this.open(r));
  }

  /**
   * A new current secret; the one it replaces signs alongside until `graceMs` from now. Secrets
   * past their time are removed. Returns the new secret and until when the old one signs.
   */
  async rotate(environmentId: string, now = new Date()): Promise<{ secret: string; oldSignsUntil?: Date }> {
    const { row, secret } = this.newRow(environmentId);
    const signUntil = new Date(now.getTime() + this.graceMs);
    const replaced = await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.webhookSecret.updateMany({ where: { environmentId, signUntil: null }, data: { signUntil } });
      await tx.webhookSecret.create({ data: row });
      await tx.webhookSecret.deleteMany({ where: { environmentId, signUntil: { lte: now } } });
      return count > 0;
    });
    return { secret, oldSignsUntil: replaced ? signUntil : undefined };
  }

  private newRow(environmentId: string) {
    const id = `whs_${randomToken(20)}`;
    const secret = newSecret();
    return { secret, row: { id, environmentId, sealedSecret: this.sealer.seal(new TextEncoder().encode(secret), sealContext(environmentId, id)) } };
  }

  private open(row: { id: string; environmentId: string; sealedSecret: string }): string {
    return new TextDecoder().decode(this.sealer.unseal(row.sealedSecret, sealContext(row.environmentId, row.id)));
  }
}
