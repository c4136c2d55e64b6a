DROP INDEX deliveries_retrying;
CREATE INDEX deliveries_queued ON deliveries (next_attempt_at) WHERE status = 'queued';
DROP TABLE delivery_ranges;
ALTER TABLE digests DROP COLUMN deliveries_through;
ALTER TABLE digests DROP COLUMN claimed_through;
