-- Recording a delivery's outcome should update its row in place. PostgreSQL can do that (a
-- HOT update: no new index entries) only when no index names a column the update changes and
-- the page has room. The partial indexes of retries and single leases named `status` and
-- `attempts`, which every outcome changes; they now name only `retry_at` and `lease_until`,
-- which the outcome of a delivery leased in a range leaves alone. Measured on 100,000
-- deliveries: recording a batch of 500 took 3.5 ms, 1.7 ms in place.
--
-- retry_at: when a delivery waiting for another attempt is due; NULL otherwise (never tried,
-- leased, or finished). It replaces next_attempt_at, which every delivery carried.
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
-- Room on each page for its rows' new versions (a recorded row grows by its Message-ID and
-- send time): at 40%, 98% of the updates stayed in place in the measurement above, against 3%
-- when pages are filled. The table is not larger after a send: the new versions used to go to
-- new pages, with new index entries.
ALTER TABLE deliveries SET (fillfactor = 40);
