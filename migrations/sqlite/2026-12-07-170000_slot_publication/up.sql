-- Published slots (issue 16): what availability changes are waiting for the slot worker, the
-- slots it keeps per role (a resource at a center), a record of each of its runs, and the
-- audit of the booked slots it kept although availability no longer covers them.

-- A change of availability, written in the transaction of the change. Both ids set: one role;
-- one set: every role of that resource or center; none: every role.
CREATE TABLE slot_events (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    resource_id VARCHAR(36) NULL,
    center_id VARCHAR(36) NULL,
    reason VARCHAR(200) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    state VARCHAR(12) NOT NULL,
    claim_token VARCHAR(36) NULL,
    lease_until TIMESTAMP NULL,
    done_at TIMESTAMP NULL
);

-- One row per role the worker has published: locked by each run of the role, so that runs of
-- one role take turns; what the last run saw.
CREATE TABLE slot_roles (
    role BIGINT NOT NULL PRIMARY KEY,
    resource_id VARCHAR(36) NOT NULL,
    center_id VARCHAR(36) NOT NULL,
    version BIGINT NOT NULL,
    booked_version BIGINT NOT NULL,
    last_run_at TIMESTAMP NOT NULL,
    UNIQUE (resource_id, center_id)
);

CREATE TABLE slots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    role BIGINT NOT NULL,
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    timezone VARCHAR(64) NOT NULL,
    status VARCHAR(20) NOT NULL,
    service_types VARCHAR(2000) NOT NULL,
    appointment_id VARCHAR(36) NULL,
    run_id VARCHAR(36) NOT NULL,
    event_id VARCHAR(36) NULL,
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (role, start_at)
);

-- The completion record of each run.
CREATE TABLE slot_runs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    role BIGINT NOT NULL,
    event_id VARCHAR(36) NULL,
    reason VARCHAR(200) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    retired INTEGER NOT NULL,
    retained INTEGER NOT NULL,
    conflicts INTEGER NOT NULL,
    diagnostics TEXT NULL
);

-- A booked slot kept although it no longer fits availability: once per slot, what was known
-- and what was decided.
CREATE TABLE slot_conflicts (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    slot_id BIGINT NOT NULL,
    run_id VARCHAR(36) NOT NULL,
    role BIGINT NOT NULL,
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    status VARCHAR(20) NOT NULL,
    appointment_id VARCHAR(36) NULL,
    inputs TEXT NOT NULL,
    decision VARCHAR(200) NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (slot_id)
);

CREATE INDEX slot_events_state ON slot_events (state, created_at);
CREATE INDEX slots_start ON slots (start_at);
CREATE INDEX slot_runs_role ON slot_runs (role, finished_at);
CREATE INDEX slot_runs_event ON slot_runs (event_id);

-- Whatever master data exists when this is applied gets published once.
INSERT INTO slot_events (id, resource_id, center_id, reason, created_at, state)
VALUES ('00000000-0000-7000-8000-000000000016', NULL, NULL, 'first publication', CURRENT_TIMESTAMP, 'queued');
