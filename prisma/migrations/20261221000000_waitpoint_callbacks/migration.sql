-- Waitpoint callbacks (issue #16): a signed POST when a waitpoint completes or times out.

-- One row per waitpoint created with a callbackUrl, made with the waitpoint. It is also the outbox:
-- the statement that completes or times out the waitpoint sets event_type, event_at and
-- next_attempt_at here in the same transaction, so a crash between completion and delivery loses
-- nothing. next_attempt_at is set exactly while something is to be delivered: the event is due, or
-- waits for its retry. A node claims a due row (FOR UPDATE SKIP LOCKED) by naming itself in
-- lease_token and moving next_attempt_at to the end of its lease (longer than an attempt can
-- take), so one node makes a given attempt, and if that node dies, the row is due again when the
-- lease ends and any node takes it.
-- The id is the Standard Webhooks `webhook-id`, the same on every retry.
CREATE TABLE "waitpoint_callbacks" (
    "id" TEXT NOT NULL,
    "waitpoint_id" TEXT NOT NULL,
    "environment_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "event_type" TEXT,
    "event_at" TIMESTAMPTZ(3),
    "next_attempt_at" TIMESTAMPTZ(3),
    "lease_token" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_attempt_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "waitpoint_callbacks_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "waitpoint_callbacks_waitpoint_id_fkey" FOREIGN KEY ("waitpoint_id") REFERENCES "waitpoints"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "waitpoint_callbacks_waitpoint_id_key" ON "waitpoint_callbacks"("waitpoint_id");
-- Partial (not expressible in schema.prisma): the deliverer's claim and next-due queries read only
-- the rows with something to deliver, however many delivered ones are kept.
CREATE INDEX "waitpoint_callbacks_next_attempt_at_idx" ON "waitpoint_callbacks"("next_attempt_at") WHERE "next_attempt_at" IS NOT NULL;

-- The secrets that sign an environment's callbacks ("whsec_" + base64 of 32 random bytes), sealed
-- with the master key like the signing keys (src/auth/master-key.ts). sign_until null = the current
-- secret (at most one per environment); set = a rotated-out secret that still signs alongside the
-- new one until then. SQL cannot seal, so environments that exist now get theirs on first use.
CREATE TABLE "webhook_secrets" (
    "id" TEXT NOT NULL,
    "environment_id" TEXT NOT NULL,
    "sealed_secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sign_until" TIMESTAMPTZ(3),
    CONSTRAINT "webhook_secrets_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_secrets_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "webhook_secrets_environment_id_idx" ON "webhook_secrets"("environment_id");
-- Two nodes making an environment's first secret at once end up with one of them.
CREATE UNIQUE INDEX "webhook_secrets_one_current_per_environment" ON "webhook_secrets"("environment_id") WHERE "sign_until" IS NULL;
