-- Portable column types only (TEXT, BIGINT, INTEGER, BOOLEAN, naive UTC TIMESTAMP) so that one
-- diesel schema serves PostgreSQL and SQLite. Timestamps are always bound from Rust, never
-- taken from the database clock, so both backends compare them the same way.

CREATE TABLE lists (
    id            BIGSERIAL PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    public        BOOLEAN NOT NULL,
    double_opt_in BOOLEAN NOT NULL,
    language      TEXT NOT NULL,
    from_name     TEXT NOT NULL,
    from_address  TEXT NOT NULL,
    reply_to      TEXT,
    archived      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE subscribers (
    id         BIGSERIAL PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT,
    language   TEXT NOT NULL,
    blocked    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE subscriptions (
    subscriber_id   BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    list_id         BIGINT NOT NULL REFERENCES lists (id),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    source          TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    confirmed_at    TIMESTAMP,
    unsubscribed_at TIMESTAMP,
    PRIMARY KEY (subscriber_id, list_id)
);
CREATE INDEX subscriptions_list_status ON subscriptions (list_id, status);

CREATE TABLE tokens (
    hash          TEXT PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP
);
CREATE INDEX tokens_subscriber ON tokens (subscriber_id);

CREATE TABLE suppressions (
    email_hash TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    subscriber_id   BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    sender          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    body            BYTEA,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until     TIMESTAMP,
    lease_owner     TEXT,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (status, priority, next_attempt_at);
CREATE INDEX outbox_subscriber ON outbox (subscriber_id, kind, created_at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
