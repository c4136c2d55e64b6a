-- Never-tried deliveries are leased in ranges of ids, one row per batch, instead of one
-- update per delivery: a delivery is then written once after it is created (its outcome).
-- A digest hands out its deliveries in id order: claimed_through is the last id handed out,
-- deliveries_through the last id it has.
ALTER TABLE digests ADD COLUMN claimed_through BIGINT NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN deliveries_through BIGINT NOT NULL DEFAULT 0;

-- A lease on the never-tried deliveries of a digest with ids first_id..last_id. When it
-- expires (its owner died), another instance takes it over and sends those still untried.
CREATE TABLE delivery_ranges (
    id          BIGSERIAL PRIMARY KEY,
    digest_id   BIGINT NOT NULL REFERENCES digests (id),
    first_id    BIGINT NOT NULL,
    last_id     BIGINT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL
);
CREATE INDEX delivery_ranges_digest ON delivery_ranges (digest_id, first_id);

-- Deliveries are claimed one by one only for a retry (attempts > 0); the never-tried rows,
-- nearly all of them, no longer cost an entry in this index.
DROP INDEX deliveries_queued;
CREATE INDEX deliveries_retrying ON deliveries (next_attempt_at) WHERE status = 'queued' AND attempts > 0;

-- Digests in flight during the upgrade hand out their untried deliveries from the start; the
-- others have nothing left to hand out.
UPDATE digests SET deliveries_through = COALESCE((SELECT max(id) FROM deliveries WHERE digest_id = digests.id), 0);
UPDATE digests SET claimed_through = CASE
    WHEN status IN ('sending', 'paused')
        THEN COALESCE((SELECT min(id) - 1 FROM deliveries WHERE digest_id = digests.id), 0)
    ELSE deliveries_through
END;
