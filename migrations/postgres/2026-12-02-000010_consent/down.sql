DROP INDEX outbox_domain;
DROP INDEX outbox_mailbox;
ALTER TABLE outbox DROP COLUMN recipient_domain;
ALTER TABLE outbox DROP COLUMN mailbox_key;
DROP TABLE token_lists;
