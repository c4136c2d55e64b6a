-- RSS and Atom feeds, each bound to a list, polled for new articles.

CREATE TABLE feeds (
    id                   BIGSERIAL PRIMARY KEY,
    list_id              BIGINT NOT NULL REFERENCES lists (id),
    url                  TEXT NOT NULL,
    interval_secs        BIGINT NOT NULL,
    -- Due time; a poller also bumps it when it claims the feed, so that no other instance
    -- polls the same feed meanwhile (a lease that expires by itself if the poller dies).
    next_poll_at         TIMESTAMP NOT NULL,
    last_polled_at       TIMESTAMP,
    last_ok_at           TIMESTAMP,
    last_error           TEXT,
    -- Failed polls in a row; the next poll backs off by interval × 2^failures (capped).
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    -- Validators of the last good response, sent back for a conditional GET.
    etag                 TEXT,
    last_modified        TEXT,
    created_at           TIMESTAMP NOT NULL,
    UNIQUE (list_id, url)
);
CREATE INDEX feeds_due ON feeds (next_poll_at);
