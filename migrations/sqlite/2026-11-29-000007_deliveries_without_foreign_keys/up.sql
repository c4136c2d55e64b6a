-- PostgreSQL drops the foreign keys of deliveries here (their per-row checks lock the digest
-- and every reader). SQLite keeps them: its checks are plain index lookups that lock nothing,
-- and dropping them would mean rebuilding the table. Erasing a reader deletes their deliveries
-- explicitly on both backends, so nothing relies on the cascade.
SELECT 1;
