-- migrate: no-transaction
-- Built concurrently: on a large sessions table a plain CREATE INDEX would hold up every write for
-- as long as it takes (src/db/migrate.ts runs these statements one by one, outside a transaction).

-- Lists page by (created_at, id) within an environment, newest first: the first page and every
-- keyset page after it read the index in order and stop at the page's end; counts are index-only.
CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_environment_id_created_at_id_idx" ON "sessions" ("environment_id", "created_at" DESC, "id" DESC);

-- The tag filter (tags && $1) and sessionTags.
CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_tags_idx" ON "sessions" USING gin ("tags");
