-- The OpenVPMS booking API. A center and an activity may be hidden from online booking (a
-- resource already has web_enabled); on by default.
ALTER TABLE centers ADD COLUMN online_booking BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE activities ADD COLUMN online_booking BOOLEAN NOT NULL DEFAULT TRUE;

-- The API's integer ids: one sequence for every kind (center, schedule = resource at a center,
-- activity, user = resource, booking), given once and never changed.
CREATE TABLE online_ids (
    number BIGINT NOT NULL PRIMARY KEY,
    kind VARCHAR(16) NOT NULL,
    internal_id VARCHAR(80) NOT NULL,
    UNIQUE (kind, internal_id)
);

-- The last id given: the one row is locked by each giver, so ids are given in turn.
CREATE TABLE online_sequence (
    name VARCHAR(16) NOT NULL PRIMARY KEY,
    last_number BIGINT NOT NULL
);
INSERT INTO online_sequence (name, last_number) VALUES ('ids', 0);

-- A booking made through the API: its unguessable reference and what the API shows of it that
-- the appointment does not hold.
CREATE TABLE online_bookings (
    number BIGINT NOT NULL PRIMARY KEY,
    token VARCHAR(64) NOT NULL,
    appointment_id VARCHAR(36) NOT NULL UNIQUE REFERENCES appointments (id),
    client_id VARCHAR(36) NOT NULL,
    user_number BIGINT NULL,
    title TEXT NULL,
    patient_name TEXT NULL,
    created_at TIMESTAMP NOT NULL
);

-- The API matches a booking's customer by contact: without these, every booking would read the
-- whole patients table.
CREATE INDEX patients_mobile_phone ON patients (mobile_phone);
CREATE INDEX patients_landline_phone ON patients (landline_phone);
CREATE INDEX patients_email ON patients (email);
