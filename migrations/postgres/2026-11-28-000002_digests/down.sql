DROP TABLE deliveries;
DROP TABLE digest_articles;
DROP TABLE digests;
DROP TABLE articles;
