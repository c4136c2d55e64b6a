ALTER TABLE deliveries RESET (fillfactor);
DROP INDEX deliveries_retrying;
DROP INDEX deliveries_leased;
ALTER TABLE deliveries ADD COLUMN next_attempt_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC');
ALTER TABLE deliveries ALTER COLUMN next_attempt_at DROP DEFAULT;
UPDATE deliveries SET next_attempt_at = retry_at WHERE retry_at IS NOT NULL;
ALTER TABLE deliveries DROP COLUMN retry_at;
CREATE INDEX deliveries_retrying ON deliveries (next_attempt_at) WHERE status = 'queued' AND attempts > 0;
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';
