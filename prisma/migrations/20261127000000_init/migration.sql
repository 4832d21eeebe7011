CREATE TABLE "environments" (
    "id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "secret_key_hash" TEXT NOT NULL,
    "jwt_secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "environments_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "environments_slug_key" ON "environments"("slug");
CREATE UNIQUE INDEX "environments_secret_key_hash_key" ON "environments"("secret_key_hash");

CREATE TABLE "sessions" (
    "id" TEXT NOT NULL,
    "environment_id" TEXT NOT NULL,
    "external_id" TEXT,
    "type" TEXT NOT NULL,
    "task_identifier" TEXT,
    "tags" TEXT[],
    "metadata" JSONB,
    "closed_at" TIMESTAMPTZ(3),
    "closed_reason" TEXT,
    "expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "sessions_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "sessions_environment_id_external_id_key" ON "sessions"("environment_id", "external_id");
-- Replication to ClickHouse needs whole old rows for updates and deletes.
ALTER TABLE "sessions" REPLICA IDENTITY FULL;

CREATE TABLE "channels" (
    "session_id" TEXT NOT NULL,
    "io" TEXT NOT NULL,
    "tail_seq_num" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "channels_pkey" PRIMARY KEY ("session_id", "io"),
    CONSTRAINT "channels_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "channel_records" (
    "session_id" TEXT NOT NULL,
    "io" TEXT NOT NULL,
    "seq_num" BIGINT NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "data" JSONB NOT NULL,
    CONSTRAINT "channel_records_pkey" PRIMARY KEY ("session_id", "io", "seq_num")
);

CREATE TABLE "append_keys" (
    "session_id" TEXT NOT NULL,
    "io" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "first_seq_num" BIGINT NOT NULL,
    "last_seq_num" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "append_keys_pkey" PRIMARY KEY ("session_id", "io", "key")
);
CREATE INDEX "append_keys_created_at_idx" ON "append_keys"("created_at");
