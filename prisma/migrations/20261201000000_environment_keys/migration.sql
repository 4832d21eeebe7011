-- Keys move out of "environments" into tables of their own, so an environment can hold more than
-- one of each while it rotates: a secret key kept valid for a while after rotation (--keep-old), a
-- signing key still accepted for the tokens it signed (named by their `kid`).

-- Secret keys: only their SHA-256 hashes. expires_at null = valid until rotated.
CREATE TABLE "secret_keys" (
    "key_hash" TEXT NOT NULL,
    "environment_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    CONSTRAINT "secret_keys_pkey" PRIMARY KEY ("key_hash"),
    CONSTRAINT "secret_keys_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "secret_keys_environment_id_idx" ON "secret_keys"("environment_id");
INSERT INTO "secret_keys" ("key_hash", "environment_id", "created_at")
  SELECT "secret_key_hash", "id", "created_at" FROM "environments";
ALTER TABLE "environments" DROP COLUMN "secret_key_hash";

-- Signing keys, sealed with the master key (AES-256-GCM, src/auth/master-key.ts). accept_until null =
-- the key new tokens are signed with (at most one per environment); otherwise it still verifies
-- tokens until then.
CREATE TABLE "signing_keys" (
    "kid" TEXT NOT NULL,
    "environment_id" TEXT NOT NULL,
    "sealed_key" TEXT NOT NULL,
    "legacy" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "accept_until" TIMESTAMPTZ(3),
    CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("kid"),
    CONSTRAINT "signing_keys_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "signing_keys_environment_id_idx" ON "signing_keys"("environment_id");
-- Not expressible in schema.prisma: two nodes creating an environment's first key at once end up
-- with one of them, not two active keys.
CREATE UNIQUE INDEX "signing_keys_one_active_per_environment" ON "signing_keys"("environment_id") WHERE "accept_until" IS NULL;
-- The old plaintext jwt_secret: SQL cannot encrypt with the master key, so it is marked "plaintext:"
-- here and sealed by the service as it starts (sealLegacySigningKeys), before any request. It is
-- retired at once: new tokens get a fresh key that was never stored in the clear, and tokens signed
-- with the old one (no kid) stay valid until they can have expired (30 days, plus a minute).
INSERT INTO "signing_keys" ("kid", "environment_id", "sealed_key", "legacy", "accept_until")
  SELECT 'legacy_' || "id", "id", 'plaintext:' || "jwt_secret", true, CURRENT_TIMESTAMP + INTERVAL '30 days 1 minute' FROM "environments";
ALTER TABLE "environments" DROP COLUMN "jwt_secret";

-- Public access tokens issued (iat) before this instant are refused (revokePublicAccessTokens).
ALTER TABLE "environments" ADD COLUMN "tokens_revoked_before" TIMESTAMPTZ(3);
