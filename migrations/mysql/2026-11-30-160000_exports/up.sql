-- The cancellations file of seed A.1.2.1, written to RENDEZ_EXPORT_DIR on a schedule.
-- The cancellations file lists patients' answers and cancellations from appointment_changes. Each
-- change row is marked with the file that carried it, in the transaction that records the file:
-- a mark per row rather than a time cursor, because commits do not happen in timestamp order.
-- Rows from before exports existed were never promised to anyone: they carry the mark 'before'.
ALTER TABLE appointment_changes ADD COLUMN export_id VARCHAR(36) NULL;
UPDATE appointment_changes SET export_id = 'before';
CREATE INDEX appointment_changes_unexported ON appointment_changes (export_id, status);

-- Every file written, in order; seq numbers the files of one kind and names them.
CREATE TABLE export_files (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    kind VARCHAR(20) NOT NULL,
    seq INTEGER NOT NULL,
    file_name VARCHAR(200) NOT NULL,
    line_count INTEGER NOT NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE INDEX export_files_seq (kind, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per kind of export: locked by the process writing a file (so that processes on one
-- database take turns), and when one was last attempted (so that together they keep the interval).
CREATE TABLE export_schedule (
    kind VARCHAR(20) NOT NULL PRIMARY KEY,
    last_run_at DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO export_schedule (kind, last_run_at) VALUES ('cancellations', NULL);
