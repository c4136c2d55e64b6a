DROP INDEX articles_scope_guid;
ALTER TABLE articles ADD CONSTRAINT articles_guid_key UNIQUE (guid);
