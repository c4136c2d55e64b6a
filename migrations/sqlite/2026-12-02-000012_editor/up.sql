-- The editor's pages: where an article came from, its image's alt text, a digest's
-- introduction, paused feeds and lists whose digests are published in a public archive.
-- feed_id has no foreign key (SQLite could not drop it again): deleting a feed clears it.
ALTER TABLE articles ADD COLUMN feed_id BIGINT;
ALTER TABLE articles ADD COLUMN image_alt TEXT NOT NULL DEFAULT '';
CREATE INDEX articles_feed ON articles (feed_id) WHERE feed_id IS NOT NULL;
ALTER TABLE feeds ADD COLUMN paused BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE digests ADD COLUMN intro TEXT NOT NULL DEFAULT '';
ALTER TABLE lists ADD COLUMN public_archive BOOLEAN NOT NULL DEFAULT FALSE;
