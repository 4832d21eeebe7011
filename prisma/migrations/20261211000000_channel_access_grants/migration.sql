-- Direct channel access handed out by initializeSessionChannel (S2 stream tokens), kept until the
-- token expires so that a close, a rename or a revocation can revoke it at the store.
CREATE TABLE "channel_access_grants" (
    "id" TEXT NOT NULL,
    "environment_id" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "io" TEXT NOT NULL,
    "write" BOOLEAN NOT NULL,
    "credential_kind" TEXT NOT NULL,
    "credential_issued_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "channel_access_grants_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "channel_access_grants_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "channel_access_grants_session_id_idx" ON "channel_access_grants"("session_id");
CREATE INDEX "channel_access_grants_environment_id_idx" ON "channel_access_grants"("environment_id");
CREATE INDEX "channel_access_grants_expires_at_idx" ON "channel_access_grants"("expires_at");
