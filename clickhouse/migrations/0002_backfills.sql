-- Which replication slots have had their initial copy of the sessions table: a slot only streams
-- changes made after it was created, so the rows that existed before are copied once.
CREATE TABLE IF NOT EXISTS _sessions_backfills
(
    slot String,
    version UInt64,
    rows UInt64,
    finished_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY slot
