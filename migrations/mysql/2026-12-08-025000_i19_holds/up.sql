-- Issue 19: holds. A hold keeps a slot of a resource at a center for one caller (its holder)
-- until it expires (expires_at), is booked (ended_at with appointment_id) or is released
-- (ended_at alone). A live hold (not ended, not expired) is busy time for every search and
-- every booking on every edge; an expired one frees the time by itself, since every reader
-- compares expires_at with its own clock: no worker has to run first.
CREATE TABLE holds (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    resource_id VARCHAR(36) NOT NULL REFERENCES resources (id),
    center_id VARCHAR(36) NOT NULL REFERENCES centers (id),
    activity_id VARCHAR(36) NOT NULL REFERENCES activities (id),
    insurance_id VARCHAR(36) NULL REFERENCES insurances (id),
    start_at DATETIME(6) NOT NULL,
    end_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    holder VARCHAR(36) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    ended_at DATETIME(6) NULL,
    appointment_id VARCHAR(36) NULL REFERENCES appointments (id),
    INDEX holds_resource_start (resource_id, start_at),
    INDEX holds_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
