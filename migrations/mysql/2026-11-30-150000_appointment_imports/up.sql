-- The clinic's exported appointments (seed A.1.1). Each file processed is recorded by the hash
-- of its content, which is unique: a file is imported once, whatever the number of processes.
-- Appointments from a file may carry no activity (the export has none), and remember the import
-- that last wrote them: only those can vanish from a later file and be cancelled for it.
CREATE TABLE appointment_imports (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    content_hash VARCHAR(64) NOT NULL UNIQUE,
    file_name VARCHAR(255) NOT NULL,
    line_count INTEGER NOT NULL,
    created_count INTEGER NOT NULL,
    updated_count INTEGER NOT NULL,
    unchanged_count INTEGER NOT NULL,
    cancelled_count INTEGER NOT NULL,
    imported_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE appointments
    MODIFY activity_id VARCHAR(36) NULL,
    ADD COLUMN import_id VARCHAR(36) NULL,
    ADD CONSTRAINT appointments_import_fk FOREIGN KEY (import_id) REFERENCES appointment_imports (id),
    ADD INDEX appointments_center_start (center_id, start_at);
