-- Fails while an appointment without activity exists: they came from imports and would be lost.
-- The center's foreign key took over appointments_center_start for its index: give it back one of
-- its own before that index goes.
ALTER TABLE appointments ADD INDEX center_id (center_id);
ALTER TABLE appointments
    DROP FOREIGN KEY appointments_import_fk,
    DROP INDEX appointments_center_start;
ALTER TABLE appointments
    DROP COLUMN import_id,
    MODIFY activity_id VARCHAR(36) NOT NULL;
DROP TABLE appointment_imports;
