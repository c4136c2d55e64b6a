DROP INDEX deliveries_retrying;
DROP INDEX deliveries_leased;
ALTER TABLE deliveries ADD COLUMN next_attempt_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE deliveries SET next_attempt_at = COALESCE(retry_at, CURRENT_TIMESTAMP);
ALTER TABLE deliveries DROP COLUMN retry_at;
CREATE INDEX deliveries_retrying ON deliveries (next_attempt_at) WHERE status = 'queued' AND attempts > 0;
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';
