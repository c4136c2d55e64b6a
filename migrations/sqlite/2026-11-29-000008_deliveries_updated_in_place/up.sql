-- retry_at: when a delivery waiting for another attempt is due; NULL otherwise (never tried,
-- leased, or finished). It replaces next_attempt_at, which every delivery carried, and the
-- partial indexes of retries and single leases now name only retry_at and lease_until, not
-- the status and attempt count every outcome changes (on PostgreSQL this lets an outcome
-- update its row in place; see the PostgreSQL migration).
ALTER TABLE deliveries ADD COLUMN retry_at TIMESTAMP;
UPDATE deliveries SET retry_at = next_attempt_at WHERE status = 'queued' AND attempts > 0;
-- lease_until is set only while a delivery is leased on its own.
UPDATE deliveries SET lease_until = NULL, lease_owner = NULL
    WHERE status <> 'sending' AND lease_until IS NOT NULL;
DROP INDEX deliveries_retrying;
DROP INDEX deliveries_leased;
ALTER TABLE deliveries DROP COLUMN next_attempt_at;
CREATE INDEX deliveries_retrying ON deliveries (retry_at) WHERE retry_at IS NOT NULL;
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE lease_until IS NOT NULL;
