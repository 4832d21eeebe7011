-- Data lifecycle (issue #15): trimmed channels, deleted sessions, retention.

-- The first seqNum a channel still holds: records below it were trimmed and are never served again
-- (a read from below answers RECORDS_TRIMMED). Only ever moves forward, never past the tail.
-- Existing channels start at 0: nothing was ever trimmed before this migration. A constant default
-- rewrites no rows.
ALTER TABLE "channels" ADD COLUMN "head_seq_num" BIGINT NOT NULL DEFAULT 0;

-- A session's own record retention (createSession's recordRetention), in milliseconds; null: the
-- service's RECORD_RETENTION applies (read by the sweeper, so changing it reaches every such session).
ALTER TABLE "sessions" ADD COLUMN "record_retention_ms" BIGINT;

-- Sessions that were deleted and whose records are still to be removed from the stream store (the
-- local store's rows, or the S2 streams) together with their idempotency keys. The session row goes
-- in one short transaction that also writes this row; the records then go in batches, outside any
-- lock an append takes, and whatever a crash leaves behind is finished by the sweeper.
CREATE TABLE "session_purges" (
    "session_id" TEXT NOT NULL,
    "environment_id" TEXT NOT NULL,
    "deleted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "session_purges_pkey" PRIMARY KEY ("session_id")
);
CREATE INDEX "session_purges_deleted_at_idx" ON "session_purges"("deleted_at");

-- Session retention finds closed sessions, and expired ones never closed, by when that happened.
CREATE INDEX "sessions_closed_at_idx" ON "sessions"("closed_at") WHERE "closed_at" IS NOT NULL;
CREATE INDEX "sessions_expires_at_idx" ON "sessions"("expires_at") WHERE "expires_at" IS NOT NULL AND "closed_at" IS NULL;
-- Record retention visits sessions in id order; without a RECORD_RETENTION default, only those with
-- their own recordRetention, found here.
CREATE INDEX "sessions_record_retention_idx" ON "sessions"("id") WHERE "record_retention_ms" IS NOT NULL;
