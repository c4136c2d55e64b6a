-- An article's GUID is unique within its list scope (its list, or every list when list_id is
-- NULL), no longer across lists: one feed bound to two lists brings its items to both.
-- SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt (SQLite's documented
-- procedure: foreign keys off, the rebuild in one transaction, ids kept).
PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE IF EXISTS articles_rebuilt;
CREATE TABLE articles_rebuilt (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL: offered to every list's digests; otherwise only to this list's.
    list_id      BIGINT REFERENCES lists (id),
    -- Deduplication key within the list scope: the feed item's GUID, else its link.
    guid         TEXT NOT NULL,
    title        TEXT NOT NULL,
    url          TEXT NOT NULL,
    author       TEXT,
    summary      TEXT NOT NULL DEFAULT '',
    language     TEXT NOT NULL,
    image_url    TEXT,
    published_at TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
INSERT INTO articles_rebuilt (id, list_id, guid, title, url, author, summary, language,
                              image_url, published_at, created_at)
    SELECT id, list_id, guid, title, url, author, summary, language, image_url, published_at,
           created_at
    FROM articles;
DROP TABLE articles;
ALTER TABLE articles_rebuilt RENAME TO articles;
CREATE INDEX articles_published ON articles (published_at);
CREATE UNIQUE INDEX articles_scope_guid ON articles (COALESCE(list_id, 0), guid);
COMMIT;
PRAGMA foreign_keys = ON;
