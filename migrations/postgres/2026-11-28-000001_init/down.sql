DROP TABLE settings;
DROP TABLE outbox;
DROP TABLE suppressions;
DROP TABLE tokens;
DROP TABLE subscriptions;
DROP TABLE subscribers;
DROP TABLE lists;
