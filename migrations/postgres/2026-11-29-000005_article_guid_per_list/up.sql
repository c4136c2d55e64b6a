-- An article's GUID is unique within its list scope (its list, or every list when list_id is
-- NULL), no longer across lists: one feed bound to two lists brings its items to both.
ALTER TABLE articles DROP CONSTRAINT articles_guid_key;
CREATE UNIQUE INDEX articles_scope_guid ON articles ((COALESCE(list_id, 0)), guid);
