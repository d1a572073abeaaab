DROP TABLE export_schedule;
DROP TABLE export_files;
DROP INDEX appointment_changes_unexported;
ALTER TABLE appointment_changes DROP COLUMN export_id;
