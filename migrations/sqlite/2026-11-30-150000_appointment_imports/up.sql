-- The clinic's exported appointments (seed A.1.1). Each file processed is recorded by the hash
-- of its content, which is unique: a file is imported once, whatever the number of processes.
-- Appointments from a file may carry no activity (the export has none), and remember the import
-- that last wrote them: only those can vanish from a later file and be cancelled for it.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE appointment_imports (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    content_hash VARCHAR(64) NOT NULL UNIQUE,
    file_name VARCHAR(255) NOT NULL,
    line_count INTEGER NOT NULL,
    created_count INTEGER NOT NULL,
    updated_count INTEGER NOT NULL,
    unchanged_count INTEGER NOT NULL,
    cancelled_count INTEGER NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
CREATE TABLE appointments_rebuilt (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    resource_id VARCHAR(36) NOT NULL REFERENCES resources (id),
    center_id VARCHAR(36) NOT NULL REFERENCES centers (id),
    activity_id VARCHAR(36) NULL REFERENCES activities (id),
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
    updated_at TIMESTAMP NOT NULL,
    import_id VARCHAR(36) NULL REFERENCES appointment_imports (id)
);
INSERT INTO appointments_rebuilt (id, lid, resource_id, center_id, activity_id, insurance_id, patient_id, availability_id, start_at, end_at, status, live, price_cents, notes, created_by, created_at, updated_at)
    SELECT id, lid, resource_id, center_id, activity_id, insurance_id, patient_id, availability_id, start_at, end_at, status, live, price_cents, notes, created_by, created_at, updated_at FROM appointments;
DROP TABLE appointments;
ALTER TABLE appointments_rebuilt RENAME TO appointments;
CREATE INDEX appointments_resource_start ON appointments (resource_id, live, start_at);
CREATE INDEX appointments_patient ON appointments (patient_id, start_at);
CREATE INDEX appointments_updated ON appointments (updated_at);
CREATE INDEX appointments_center_start ON appointments (center_id, start_at);
CREATE INDEX appointments_import ON appointments (import_id);
COMMIT;
PRAGMA foreign_keys = ON;
