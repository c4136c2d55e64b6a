-- A list's automatic digest: built and sent at each run time when there are new articles.
CREATE TABLE digest_schedules (
    list_id     BIGINT PRIMARY KEY REFERENCES lists (id),
    -- "daily 08:00" or "weekly mon,thu 07:30", local time in time_zone.
    cadence     TEXT NOT NULL,
    -- IANA name, e.g. Europe/Rome.
    time_zone   TEXT NOT NULL,
    -- The next run, naive UTC. Instances advance it with a compare-and-set so only one of them
    -- builds the digest.
    next_run_at TIMESTAMP NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX digest_schedules_next ON digest_schedules (next_run_at);
