-- The outbox: every SMS and email Rendez sends, whoever asked for it (an API client through
-- updateMessages, or Rendez itself for confirmations, reminders and result notices). A message is
-- written here in the caller's transaction and sent later by a worker that claims it with a lease.
CREATE TABLE messages (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    -- The API client's id, or a fixed name such as 'rendez:reminders' for Rendez's own messages.
    owner VARCHAR(100) NOT NULL,
    -- The owner's idempotency key: the same key again returns this message and queues nothing.
    legacy_id VARCHAR(100) NOT NULL,
    channel VARCHAR(10) NOT NULL,
    recipient VARCHAR(254) NOT NULL,
    sender VARCHAR(254) NULL,
    subject VARCHAR(998) NULL,
    body MEDIUMTEXT NOT NULL,
    segments INTEGER NULL,
    status VARCHAR(12) NOT NULL,
    send_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NULL,
    -- QUEUED: when it may be claimed (SEND_AT, then each retry's time); SENDING: when the lease
    -- of the worker that claimed it runs out.
    due_at DATETIME(6) NOT NULL,
    -- Set by each claim; a worker may only report on a message it still holds.
    claim_token VARCHAR(36) NULL,
    attempts INTEGER NOT NULL,
    provider VARCHAR(20) NULL,
    provider_id VARCHAR(100) NULL,
    error_message TEXT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    sent_at DATETIME(6) NULL,
    delivered_at DATETIME(6) NULL,
    UNIQUE INDEX messages_owner_legacy (owner, legacy_id),
    INDEX messages_due (status, channel, due_at),
    INDEX messages_owner_created (owner, created_at),
    INDEX messages_provider_id (provider_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every sending attempt: when, how it ended, the provider's id or error.
CREATE TABLE message_attempts (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    message_id VARCHAR(36) NOT NULL REFERENCES messages (id),
    attempt INTEGER NOT NULL,
    started_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NOT NULL,
    -- SENT, RETRY, FAILED, EXPIRED, REFUSED or LOST (the worker stopped before reporting).
    outcome VARCHAR(10) NOT NULL,
    provider VARCHAR(20) NULL,
    provider_id VARCHAR(100) NULL,
    error_message TEXT NULL,
    retry_at DATETIME(6) NULL,
    INDEX message_attempts_message (message_id, attempt)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every delivery report a provider sent, kept whether or not it changed the message (a late or
-- duplicate report never moves a status back). message_id stays NULL until the report is matched,
-- which may happen after the report arrived: a provider can report before the send is recorded.
CREATE TABLE message_reports (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    provider VARCHAR(20) NOT NULL,
    provider_id VARCHAR(100) NOT NULL,
    message_id VARCHAR(36) NULL,
    status VARCHAR(12) NOT NULL,
    provider_status VARCHAR(40) NOT NULL,
    error_message TEXT NULL,
    received_at DATETIME(6) NOT NULL,
    INDEX message_reports_provider_id (provider, provider_id),
    INDEX message_reports_message (message_id, received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Per-channel token buckets shared by every worker process on this database, so that the
-- configured rate holds for the whole installation, not per process.
CREATE TABLE rate_buckets (
    channel VARCHAR(10) NOT NULL PRIMARY KEY,
    tokens DOUBLE NOT NULL,
    refilled_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
