CREATE TABLE "waitpoints" (
    "id" TEXT NOT NULL,
    "environment_id" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "io" TEXT NOT NULL,
    "after_seq_num" BIGINT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "idempotency_key" TEXT,
    "tags" TEXT[],
    "record_seq_num" BIGINT,
    "record_timestamp" TIMESTAMPTZ(3),
    "record_data" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "timeout_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "waitpoints_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "waitpoints_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "waitpoints_session_id_io_idempotency_key_key" ON "waitpoints"("session_id", "io", "idempotency_key");
CREATE INDEX "waitpoints_session_id_io_status_idx" ON "waitpoints"("session_id", "io", "status");
CREATE INDEX "waitpoints_status_timeout_at_idx" ON "waitpoints"("status", "timeout_at");
