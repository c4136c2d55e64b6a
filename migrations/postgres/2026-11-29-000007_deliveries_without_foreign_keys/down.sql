ALTER TABLE deliveries ADD CONSTRAINT deliveries_digest_id_fkey
    FOREIGN KEY (digest_id) REFERENCES digests (id);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_subscriber_id_fkey
    FOREIGN KEY (subscriber_id) REFERENCES subscribers (id) ON DELETE CASCADE;
