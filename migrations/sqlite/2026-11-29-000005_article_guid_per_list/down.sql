PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE IF EXISTS articles_rebuilt;
CREATE TABLE articles_rebuilt (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    list_id      BIGINT REFERENCES lists (id),
    guid         TEXT NOT NULL UNIQUE,
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
COMMIT;
PRAGMA foreign_keys = ON;
