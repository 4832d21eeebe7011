-- Each environment's number of sessions, kept by the statements that insert and delete them: the
-- dashboard's unfiltered totalCount reads a few rows here instead of counting the environment's
-- index (about 60 ms at a million sessions, and it grows with them). A filtered count still counts.
--
-- Several rows per environment ("slot", one per backend modulo 16, summed when read) so that
-- sessions created at once on different connections do not queue on one row's lock. A slot may go
-- negative (a delete on another connection than the insert); only the sum means anything.
-- Writers that share a slot meet on its row: the service writes each session in one autocommit
-- statement, so they only queue; a REPEATABLE READ writer could instead fail to serialize, and two
-- transactions writing two environments in opposite orders could deadlock. Dead versions of these
-- rows pile up while an old snapshot is held (a slower count, by a fraction of a millisecond).
-- No foreign key to environments: rows are only written by the triggers below, for sessions, whose
-- own key already holds the environment; one would add a lookup to every count change.

-- First, before anything takes a snapshot: a lock that stops session writes (not reads) until the
-- triggers and the first counts are in place, so that no session is counted twice or missed.
LOCK TABLE "sessions" IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE "session_counts" (
  "environment_id" TEXT NOT NULL,
  "slot" SMALLINT NOT NULL,
  "sessions" BIGINT NOT NULL,
  PRIMARY KEY ("environment_id", "slot")
);

-- Statement-level, with transition tables: a retention sweep deleting thousands of sessions, or a
-- bulk insert, changes each environment's row once; in environment order, so two statements that
-- touch the same rows lock them in the same order (no deadlock).
CREATE FUNCTION "session_counts_add"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "session_counts" ("environment_id", "slot", "sessions")
  SELECT "environment_id", pg_backend_pid() % 16, count(*) FROM "changed" GROUP BY "environment_id" ORDER BY "environment_id"
  ON CONFLICT ("environment_id", "slot") DO UPDATE SET "sessions" = "session_counts"."sessions" + EXCLUDED."sessions";
  RETURN NULL;
END $$;

CREATE FUNCTION "session_counts_remove"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "session_counts" ("environment_id", "slot", "sessions")
  SELECT "environment_id", pg_backend_pid() % 16, -count(*) FROM "changed" GROUP BY "environment_id" ORDER BY "environment_id"
  ON CONFLICT ("environment_id", "slot") DO UPDATE SET "sessions" = "session_counts"."sessions" + EXCLUDED."sessions";
  RETURN NULL;
END $$;

-- TRUNCATE empties the counts with the table.
CREATE FUNCTION "session_counts_clear"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "session_counts";
  RETURN NULL;
END $$;

-- Inserts and deletes are all there is to count because a session's environment never changes:
-- refused, rather than counted in the wrong place (environments' ON UPDATE CASCADE would move it).
CREATE FUNCTION "sessions_environment_fixed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a session''s environment_id never changes (session %)', OLD."id";
END $$;

-- The functions find session_counts in the schema the service migrated, whatever search_path the
-- writer has (an operator's psql, another role).
ALTER FUNCTION "session_counts_add"() SET search_path FROM CURRENT;
ALTER FUNCTION "session_counts_remove"() SET search_path FROM CURRENT;
ALTER FUNCTION "session_counts_clear"() SET search_path FROM CURRENT;

-- The triggers and the first counts below are made in this one transaction.
CREATE TRIGGER "session_counts_insert" AFTER INSERT ON "sessions" REFERENCING NEW TABLE AS "changed" FOR EACH STATEMENT EXECUTE FUNCTION "session_counts_add"();
CREATE TRIGGER "session_counts_delete" AFTER DELETE ON "sessions" REFERENCING OLD TABLE AS "changed" FOR EACH STATEMENT EXECUTE FUNCTION "session_counts_remove"();
CREATE TRIGGER "sessions_environment_fixed" BEFORE UPDATE OF "environment_id" ON "sessions" FOR EACH ROW WHEN (OLD."environment_id" IS DISTINCT FROM NEW."environment_id") EXECUTE FUNCTION "sessions_environment_fixed"();
CREATE TRIGGER "session_counts_truncate" AFTER TRUNCATE ON "sessions" FOR EACH STATEMENT EXECUTE FUNCTION "session_counts_clear"();
INSERT INTO "session_counts" ("environment_id", "slot", "sessions") SELECT "environment_id", 0, count(*) FROM "sessions" GROUP BY "environment_id";
