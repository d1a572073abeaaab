-- Patients, keyed by Rendez's own id (USER_TID) and, when the clinic system gave one, its LID.
CREATE TABLE patients (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tid VARCHAR(36) NOT NULL UNIQUE,
    lid VARCHAR(50) NULL UNIQUE,
    id_number VARCHAR(50) NULL,
    first_name VARCHAR(200) NULL,
    second_name VARCHAR(200) NULL,
    third_name VARCHAR(200) NULL,
    gender VARCHAR(10) NULL,
    date_of_birth DATE NULL,
    mobile_phone VARCHAR(20) NULL,
    landline_phone VARCHAR(20) NULL,
    email VARCHAR(254) NULL,
    language VARCHAR(10) NULL,
    communication_preferences VARCHAR(3) NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One patient per ID number, so that two first bookings at once cannot create two.
CREATE UNIQUE INDEX patients_id_number ON patients (id_number);

-- Appointments hold real instants (UTC); the center's wall clock is applied at the edge.
CREATE TABLE appointments (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    resource_id VARCHAR(36) NOT NULL REFERENCES resources (id),
    center_id VARCHAR(36) NOT NULL REFERENCES centers (id),
    activity_id VARCHAR(36) NOT NULL REFERENCES activities (id),
    insurance_id VARCHAR(36) NULL REFERENCES insurances (id),
    patient_id VARCHAR(36) NOT NULL REFERENCES patients (id),
    availability_id VARCHAR(36) NULL REFERENCES availabilities (id),
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    status VARCHAR(20) NOT NULL,
    live BOOLEAN NOT NULL,
    price_cents BIGINT NULL,
    notes TEXT NULL,
    created_by VARCHAR(36) NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX appointments_resource_start ON appointments (resource_id, live, start_at);
CREATE INDEX appointments_patient ON appointments (patient_id, start_at);
CREATE INDEX appointments_updated ON appointments (updated_at);

-- Every booking change, written in the same transaction as the change itself; later work
-- (confirmations, reminders, notices to the clinic system) reads it.
CREATE TABLE appointment_changes (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    appointment_id VARCHAR(36) NOT NULL REFERENCES appointments (id),
    kind VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL,
    client_id VARCHAR(36) NULL,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX appointment_changes_at ON appointment_changes (changed_at);
CREATE INDEX appointment_changes_appointment ON appointment_changes (appointment_id);

-- The first answer to an addAppointment with a REQUEST_ID, returned again to a retry.
CREATE TABLE booking_requests (
    client_id VARCHAR(36) NOT NULL,
    request_id VARCHAR(100) NOT NULL,
    add_result VARCHAR(10) NOT NULL,
    error_message TEXT NULL,
    app_lid VARCHAR(50) NULL,
    user_lid VARCHAR(50) NULL,
    user_tid VARCHAR(36) NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, request_id)
);
