-- Articles, digests and one delivery row per recipient of a digest.

CREATE TABLE articles (
    id           BIGSERIAL PRIMARY KEY,
    -- NULL: offered to every list's digests; otherwise only to this list's.
    list_id      BIGINT REFERENCES lists (id),
    -- Deduplication key: the feed item's GUID, else its link.
    guid         TEXT NOT NULL UNIQUE,
    title        TEXT NOT NULL,
    url          TEXT NOT NULL,
    author       TEXT,
    summary      TEXT NOT NULL DEFAULT '',
    language     TEXT NOT NULL,
    image_url    TEXT,
    published_at TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX articles_published ON articles (published_at);

CREATE TABLE digests (
    id          BIGSERIAL PRIMARY KEY,
    list_id     BIGINT NOT NULL REFERENCES lists (id),
    subject     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')),
    scheduled_at TIMESTAMP,
    created_at  TIMESTAMP NOT NULL,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX digests_list ON digests (list_id, created_at);

-- The articles of a digest, frozen when it is created.
CREATE TABLE digest_articles (
    digest_id  BIGINT NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    article_id BIGINT NOT NULL REFERENCES articles (id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (digest_id, article_id)
);

-- One row per recipient, created in one statement when the digest starts, so the audience is
-- frozen at send time. Same lease protocol as the outbox.
CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    digest_id       BIGINT NOT NULL REFERENCES digests (id),
    subscriber_id   BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    -- skipped: the reader left the list or was blocked after the digest started.
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until     TIMESTAMP,
    lease_owner     TEXT,
    message_id      TEXT,
    last_error      TEXT,
    sent_at         TIMESTAMP
);
CREATE UNIQUE INDEX deliveries_digest_subscriber ON deliveries (digest_id, subscriber_id);
-- Partial indexes: only rows waiting or in flight are indexed for the claim, so a sent row
-- (nearly all of them) costs no entry here, and recording a batch touches fewer index pages.
CREATE INDEX deliveries_queued ON deliveries (next_attempt_at) WHERE status = 'queued';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';
