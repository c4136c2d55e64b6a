ALTER TABLE lists DROP COLUMN public_archive;
ALTER TABLE digests DROP COLUMN intro;
ALTER TABLE feeds DROP COLUMN paused;
DROP INDEX articles_feed;
ALTER TABLE articles DROP COLUMN image_alt;
ALTER TABLE articles DROP COLUMN feed_id;
