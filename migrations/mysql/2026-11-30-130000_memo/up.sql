-- Appointment communications. The planner reads appointment_changes (every writer of appointments
-- writes it in the same transaction) and marks each row it has planned from; rows are claimed by
-- this mark rather than by a time cursor, because commits do not happen in timestamp order.
ALTER TABLE appointment_changes ADD COLUMN planned_at DATETIME(6) NULL;
-- Changes from before communications existed promised nobody a message.
UPDATE appointment_changes SET planned_at = changed_at;
CREATE INDEX appointment_changes_unplanned ON appointment_changes (planned_at, changed_at);

-- What Rendez tells (or decided not to tell) a patient about one appointment: at most one row per
-- appointment, kind, reminder offset and appointment start, whatever the number of processes.
-- state: planned (due_at ahead), queued (handed to the outbox as message_id), withdrawn (the
-- appointment moved or was cancelled first), dropped (fell due when it no longer made sense, e.g.
-- after downtime), skipped (never due: booked too late, or no channel); reason says why.
CREATE TABLE appointment_notices (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    appointment_id VARCHAR(36) NOT NULL REFERENCES appointments (id),
    kind VARCHAR(20) NOT NULL,
    offset_seconds INTEGER NOT NULL,
    appointment_start DATETIME(6) NOT NULL,
    due_at DATETIME(6) NOT NULL,
    state VARCHAR(12) NOT NULL,
    reason VARCHAR(300) NULL,
    channel VARCHAR(10) NULL,
    recipient VARCHAR(254) NULL,
    language VARCHAR(10) NULL,
    message_id VARCHAR(36) NULL,
    link_used_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE INDEX appointment_notices_key (appointment_id, kind, offset_seconds, appointment_start),
    INDEX appointment_notices_due (state, due_at),
    INDEX appointment_notices_recipient (recipient, state)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Mobile numbers (E.164) that answered STOP: no SMS goes to them until they answer START.
CREATE TABLE sms_opt_outs (
    phone VARCHAR(20) NOT NULL PRIMARY KEY,
    opted_out_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every SMS reply received, by its provider's id (a provider retrying a webhook changes nothing),
-- with what it was read as and what it did; the text itself is not kept.
CREATE TABLE sms_replies (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    provider VARCHAR(20) NOT NULL,
    provider_message_id VARCHAR(100) NOT NULL,
    from_phone VARCHAR(20) NOT NULL,
    appointment_id VARCHAR(36) NULL,
    intent VARCHAR(10) NOT NULL,
    outcome VARCHAR(300) NOT NULL,
    received_at DATETIME(6) NOT NULL,
    UNIQUE INDEX sms_replies_provider_id (provider, provider_message_id),
    INDEX sms_replies_from (from_phone, received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
