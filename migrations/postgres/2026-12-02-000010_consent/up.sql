-- A confirmation link confirms the subscriptions it was sent for, and only those.
CREATE TABLE token_lists (
    token_hash TEXT NOT NULL REFERENCES tokens (hash) ON DELETE CASCADE,
    list_id    BIGINT NOT NULL REFERENCES lists (id),
    PRIMARY KEY (token_hash, list_id)
);

-- Confirmation mail is limited per mailbox (the address with any +tag left out, so
-- victim+1@, victim+2@... count as one) and per recipient domain, not per address. Cleared
-- when the reader erases their data.
ALTER TABLE outbox ADD COLUMN mailbox_key TEXT;
ALTER TABLE outbox ADD COLUMN recipient_domain TEXT;
CREATE INDEX outbox_mailbox ON outbox (mailbox_key, created_at) WHERE mailbox_key IS NOT NULL;
CREATE INDEX outbox_domain ON outbox (recipient_domain, created_at) WHERE recipient_domain IS NOT NULL;
