-- Each environment's number of sessions, kept by the statements that insert and delete them: the
-- dashboard's unfiltered totalCount reads a few rows here instead of counting the environment's
-- index (about 60 ms at a million sessions, and it grows with them). A filtered count still counts.
--
-- Several rows per environment ("slot", one per backend modulo 16, summed when read) so that
-- sessions created at once on different connections do not queue on one row's lock. A slot may go
-- negative (a delete on another connection than the insert); only the sum means anything.
-- No foreign key to environments: a cascade that deletes an environment's sessions would otherwise
-- insert rows for the environment it is deleting. Environment ids are never reused.
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

-- A session's environment never changes (no statement updates environment_id), so inserts and
-- deletes are all there is to count; TRUNCATE empties the counts with the table.
CREATE FUNCTION "session_counts_clear"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "session_counts";
  RETURN NULL;
END $$;

-- The triggers and the first counts in one transaction under a lock that stops session writes (not
-- reads) meanwhile: no session is counted twice or missed.
LOCK TABLE "sessions" IN SHARE ROW EXCLUSIVE MODE;
CREATE TRIGGER "session_counts_insert" AFTER INSERT ON "sessions" REFERENCING NEW TABLE AS "changed" FOR EACH STATEMENT EXECUTE FUNCTION "session_counts_add"();
CREATE TRIGGER "session_counts_delete" AFTER DELETE ON "sessions" REFERENCING OLD TABLE AS "changed" FOR EACH STATEMENT EXECUTE FUNCTION "session_counts_remove"();
CREATE TRIGGER "session_counts_truncate" AFTER TRUNCATE ON "sessions" FOR EACH STATEMENT EXECUTE FUNCTION "session_counts_clear"();
INSERT INTO "session_counts" ("environment_id", "slot", "sessions") SELECT "environment_id", 0, count(*) FROM "sessions" GROUP BY "environment_id";
