-- Storage caps (issue #12 item 5): the bytes of records each channel holds, and each environment's
-- total as the housekeeping sweep last measured it.

-- Bytes of record JSON appended to the channel (each record as the writer encoded it, the measure of
-- the "a record, as JSON" limit), kept by the append that already locks and updates this row; a later
-- trim or delete subtracts what it removes. With a constant default, adding the column rewrites no
-- rows. Records stored before this migration are not counted: measuring them would read every record
-- (on S2 it is not possible from here at all), so existing channels start from 0.
ALTER TABLE "channels" ADD COLUMN "stored_bytes" BIGINT NOT NULL DEFAULT 0;

-- Per environment, the sum of its channels' stored_bytes, written only by the housekeeping sweep (one
-- node at a time) and only read by appends: a figure that lags by up to one sweep period, instead of a
-- row every append of the environment would have to lock. A missing row counts as 0.
CREATE TABLE "environment_usage" (
    "environment_id" TEXT NOT NULL,
    "stored_bytes" BIGINT NOT NULL DEFAULT 0,
    "measured_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "environment_usage_pkey" PRIMARY KEY ("environment_id"),
    CONSTRAINT "environment_usage_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
