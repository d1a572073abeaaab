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
    created_at DATETIME(6) NOT NULL,
    state VARCHAR(12) NOT NULL,
    claim_token VARCHAR(36) NULL,
    lease_until DATETIME(6) NULL,
    done_at DATETIME(6) NULL,
    KEY slot_events_state (state, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per role the worker has published: locked by each run of the role, so that runs of
-- one role take turns; what the last run saw.
CREATE TABLE slot_roles (
    role BIGINT NOT NULL PRIMARY KEY,
    resource_id VARCHAR(36) NOT NULL,
    center_id VARCHAR(36) NOT NULL,
    version BIGINT NOT NULL,
    booked_version BIGINT NOT NULL,
    last_run_at DATETIME(6) NOT NULL,
    UNIQUE KEY slot_roles_resource_center (resource_id, center_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE slots (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    role BIGINT NOT NULL,
    start_at DATETIME(6) NOT NULL,
    end_at DATETIME(6) NOT NULL,
    timezone VARCHAR(64) NOT NULL,
    status VARCHAR(20) NOT NULL,
    service_types VARCHAR(2000) NOT NULL,
    appointment_id VARCHAR(36) NULL,
    run_id VARCHAR(36) NOT NULL,
    event_id VARCHAR(36) NULL,
    version BIGINT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE KEY slots_role_start (role, start_at),
    KEY slots_start (start_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The completion record of each run.
CREATE TABLE slot_runs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    role BIGINT NOT NULL,
    event_id VARCHAR(36) NULL,
    reason VARCHAR(200) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NOT NULL,
    window_start DATETIME(6) NOT NULL,
    window_end DATETIME(6) NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    retired INTEGER NOT NULL,
    retained INTEGER NOT NULL,
    conflicts INTEGER NOT NULL,
    diagnostics TEXT NULL,
    KEY slot_runs_role (role, finished_at),
    KEY slot_runs_event (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A booked slot kept although it no longer fits availability: once per slot, what was known
-- and what was decided.
CREATE TABLE slot_conflicts (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    slot_id BIGINT NOT NULL,
    run_id VARCHAR(36) NOT NULL,
    role BIGINT NOT NULL,
    start_at DATETIME(6) NOT NULL,
    end_at DATETIME(6) NOT NULL,
    status VARCHAR(20) NOT NULL,
    appointment_id VARCHAR(36) NULL,
    inputs TEXT NOT NULL,
    decision VARCHAR(200) NOT NULL,
    recorded_at DATETIME(6) NOT NULL,
    UNIQUE KEY slot_conflicts_slot (slot_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Whatever master data exists when this is applied gets published once.
INSERT INTO slot_events (id, resource_id, center_id, reason, created_at, state)
VALUES ('00000000-0000-7000-8000-000000000016', NULL, NULL, 'first publication', CURRENT_TIMESTAMP(6), 'queued');
