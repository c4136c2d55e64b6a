-- The names blanked by the up migration stay blank.
DROP TABLE instances;
ALTER TABLE digests DROP COLUMN skipped_count;
ALTER TABLE digests DROP COLUMN failed_count;
ALTER TABLE digests DROP COLUMN sent_count;
ALTER TABLE digests DROP COLUMN recipients;
