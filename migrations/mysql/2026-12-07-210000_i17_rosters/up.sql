-- Issue 17: rosters. A shift is a resource working at a center (optionally in an area of it)
-- from one instant to another (UTC), with zero or more breaks; shifts are an availability
-- source beside the rules (updateAvailabilities, CSV, FHIR PractitionerRole). A shift came
-- from Rendez (the CLI, the admin API) or from Deputy (origin), and keeps Deputy's roster id
-- and Deputy's Modified stamp, so that the sync recognises its own changes and never lets an
-- older event undo a newer state. A removed shift stays (removed_at) for the sync's delete and
-- for the conflicts that name it. version moves with every change.
CREATE TABLE roster_shifts (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    resource_id VARCHAR(36) NOT NULL,
    center_id VARCHAR(36) NOT NULL,
    area VARCHAR(100) NULL,
    start_at DATETIME(6) NOT NULL,
    end_at DATETIME(6) NOT NULL,
    origin VARCHAR(16) NOT NULL,
    deputy_roster_id BIGINT NULL,
    external_modified_at DATETIME(6) NULL,
    version BIGINT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    removed_at DATETIME(6) NULL,
    UNIQUE (deputy_roster_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX roster_shifts_resource ON roster_shifts (resource_id, start_at);
CREATE INDEX roster_shifts_center ON roster_shifts (center_id, start_at);
CREATE INDEX roster_shifts_end ON roster_shifts (end_at);

-- The breaks of a shift (busy time inside it), in order.
CREATE TABLE roster_breaks (
    shift_id VARCHAR(36) NOT NULL,
    seq INTEGER NOT NULL,
    start_at DATETIME(6) NOT NULL,
    end_at DATETIME(6) NOT NULL,
    PRIMARY KEY (shift_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Where a resource's availability comes from, when the clinic said so: 'rules', 'roster' or
-- 'both' (their intersection). No row: the roster for a resource with shifts or a Deputy
-- employee, the rules otherwise. A table of its own rather than a column of resources: the
-- master-data push rewrites resources, and this may be set from the CLI as well.
CREATE TABLE resource_availability_modes (
    resource_id VARCHAR(36) NOT NULL PRIMARY KEY,
    mode VARCHAR(8) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A center, or an area of it (area '' = the whole center), mapped to a Deputy operational
-- unit; a unit maps to one place only.
CREATE TABLE deputy_units (
    center_id VARCHAR(36) NOT NULL,
    area VARCHAR(100) NOT NULL,
    unit_id BIGINT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (center_id, area),
    UNIQUE (unit_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A resource mapped to a Deputy employee; an employee maps to one resource only.
CREATE TABLE deputy_employees (
    resource_id VARCHAR(36) NOT NULL PRIMARY KEY,
    employee_id BIGINT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE (employee_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A shift removed or shortened while a patient was booked in the time it lost: the
-- appointment stays, and this row tells an operator (once per shift and appointment; a
-- resolved conflict met again is reopened).
CREATE TABLE roster_conflicts (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    shift_id VARCHAR(36) NOT NULL,
    appointment_id VARCHAR(36) NOT NULL,
    resource_id VARCHAR(36) NOT NULL,
    center_id VARCHAR(36) NOT NULL,
    cause VARCHAR(16) NOT NULL,
    detected_at DATETIME(6) NOT NULL,
    resolved_at DATETIME(6) NULL,
    resolved_by VARCHAR(200) NULL,
    UNIQUE (shift_id, appointment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX roster_conflicts_open ON roster_conflicts (resolved_at, detected_at);

-- A shift that cannot be synchronised, by subject ('shift:<id>' for a Rendez shift,
-- 'deputy:<roster id>' for one of Deputy's): the reason last given, when first and last seen,
-- and when it was cleared (a cleared error met again is reopened).
CREATE TABLE roster_sync_errors (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    subject VARCHAR(120) NOT NULL,
    shift_id VARCHAR(36) NULL,
    external_id VARCHAR(40) NULL,
    reason TEXT NOT NULL,
    occurrences INTEGER NOT NULL,
    first_seen_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    cleared_at DATETIME(6) NULL,
    UNIQUE (subject)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX roster_sync_errors_open ON roster_sync_errors (cleared_at, last_seen_at);
