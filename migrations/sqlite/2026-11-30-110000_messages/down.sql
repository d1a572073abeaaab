DROP TABLE rate_buckets;
DROP TABLE message_reports;
DROP TABLE message_attempts;
DROP TABLE messages;
