-- A digest's progress, counted as its outcomes are recorded: reading it no longer groups every
-- delivery of the digest (a million rows for a large list, polled twice a second by
-- `digest send --wait`). recipients is the audience frozen at the start; the counts move with
-- each batch of outcomes (and back, for `retry-failed`).
ALTER TABLE digests ADD COLUMN recipients BIGINT NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN sent_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN failed_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN skipped_count BIGINT NOT NULL DEFAULT 0;
UPDATE digests SET
    recipients = (SELECT COUNT(*) FROM deliveries d WHERE d.digest_id = digests.id),
    sent_count = (SELECT COUNT(*) FROM deliveries d WHERE d.digest_id = digests.id AND d.status = 'sent'),
    failed_count = (SELECT COUNT(*) FROM deliveries d WHERE d.digest_id = digests.id AND d.status = 'failed'),
    skipped_count = (SELECT COUNT(*) FROM deliveries d WHERE d.digest_id = digests.id AND d.status = 'skipped')
    WHERE status <> 'draft';

-- Running instances: each renews its leases and this row every few seconds, so a dead one's
-- work is taken over within a lease (30 s by default), and a command can tell whether an
-- instance is delivering digests.
CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    engine     BOOLEAN NOT NULL,
    started_at TIMESTAMP NOT NULL,
    seen_at    TIMESTAMP NOT NULL
);

-- The signup form printed an empty name as "None", which readers who left the field alone
-- submitted as their name.
UPDATE subscribers SET name = NULL WHERE name IN ('None', 'none');
