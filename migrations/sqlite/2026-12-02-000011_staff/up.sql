-- People who run the service from its web pages: admins and editors.
CREATE TABLE staff_users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    email               TEXT NOT NULL UNIQUE,
    role                TEXT NOT NULL CHECK (role IN ('admin', 'editor')),
    -- argon2id, PHC string.
    password_hash       TEXT NOT NULL,
    language            TEXT NOT NULL,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          TIMESTAMP NOT NULL,
    password_changed_at TIMESTAMP NOT NULL,
    last_login_at       TIMESTAMP
);

-- Signed-in browsers. Only the SHA-256 of the cookie's value is stored; every instance
-- accepts every session.
CREATE TABLE staff_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);

-- One-time links for staff (the first admin's set-up link); only their SHA-256 is stored.
CREATE TABLE staff_tokens (
    hash       TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

-- Failed logins, by account and by client, for throttling (shared by every instance).
CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at  TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

-- Who did what and when.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TIMESTAMP NOT NULL,
    user_id    BIGINT,
    user_email TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user ON audit_log (user_email, at);
CREATE INDEX audit_log_action ON audit_log (action, at);

-- Imports started from the browser: their progress and the first of their bad rows.
CREATE TABLE import_jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL,
    list_id     BIGINT NOT NULL,
    file_name   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    read_rows   BIGINT NOT NULL DEFAULT 0,
    imported    BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    summary     TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    -- The last progress written: a running import that stops moving was interrupted.
    updated_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE TABLE import_errors (
    job_id BIGINT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line   BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (job_id, line)
);

-- Subscriber search: by the start of the address, or of any word of the name. Each word of a
-- name is a term (lower-cased by the service, which writes them); the address's own unique
-- index serves its prefix (SQLite compares bytes).
CREATE TABLE subscriber_terms (
    subscriber_id BIGINT NOT NULL,
    term          TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, term)
) WITHOUT ROWID;
CREATE INDEX subscriber_terms_term ON subscriber_terms (term, subscriber_id);
-- Existing names are indexed right after this migration, by the same Rust rule as new
-- ones (db::terms::index_all): SQL's lower() and word splitting differ from it.

-- Paging a list's subscribers (by status or not) newest first stays an index scan at a
-- million subscribers; the first index also serves what (list_id, status) served.
DROP INDEX subscriptions_list_status;
CREATE INDEX subscriptions_list_status_subscriber ON subscriptions (list_id, status, subscriber_id);
CREATE INDEX subscriptions_list_subscriber ON subscriptions (list_id, subscriber_id);
-- The admin's status filter over every list ("who unsubscribed").
CREATE INDEX subscriptions_status_subscriber ON subscriptions (status, subscriber_id);
-- The dashboard's signups and unsubscribes of the last 30 days.
CREATE INDEX subscriptions_created ON subscriptions (created_at);
CREATE INDEX subscriptions_unsubscribed ON subscriptions (unsubscribed_at)
    WHERE unsubscribed_at IS NOT NULL;
