-- Issue 19: holds. A hold keeps a slot of a resource at a center for one caller (its holder)
-- until it expires (expires_at), is booked (ended_at with appointment_id) or is released
-- (ended_at alone). A live hold (not ended, not expired) is busy time for every search and
-- every booking on every edge; an expired one frees the time by itself, since every reader
-- compares expires_at with its own clock: no worker has to run first.
CREATE TABLE holds (
    id TEXT NOT NULL PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources (id),
    center_id TEXT NOT NULL REFERENCES centers (id),
    activity_id TEXT NOT NULL REFERENCES activities (id),
    insurance_id TEXT NULL REFERENCES insurances (id),
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    holder TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP NULL,
    appointment_id TEXT NULL REFERENCES appointments (id)
);
CREATE INDEX holds_resource_start ON holds (resource_id, start_at);
CREATE INDEX holds_expires ON holds (expires_at);
