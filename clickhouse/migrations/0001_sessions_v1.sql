-- Sessions for lists, counts and tags at scale, fed by logical replication from PostgreSQL.
-- One row version per change: _version is the commit LSN, deletes arrive as _is_deleted = 1,
-- and ReplacingMergeTree keeps the newest version, so replaying a batch is harmless.
CREATE TABLE IF NOT EXISTS sessions_v1
(
    environment_id String,
    session_id String,
    external_id Nullable(String),
    type LowCardinality(String),
    task_identifier Nullable(String),
    tags Array(String),
    closed_at Nullable(DateTime64(3, 'UTC')),
    expires_at Nullable(DateTime64(3, 'UTC')),
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    _version UInt64,
    _is_deleted UInt8 DEFAULT 0,
    INDEX idx_tags tags TYPE tokenbf_v1(8192, 3, 0) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(_version, _is_deleted)
PARTITION BY toYYYYMM(created_at)
ORDER BY (environment_id, created_at, session_id)
