-- Test results handed over by the clinic system. The file name and content are sealed with
-- AES-256-GCM under the results key named by key_id; the download code and the ID number are
-- kept only as keyed hashes (HMAC-SHA256 under a subkey of that same key).
CREATE TABLE test_results (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    status VARCHAR(10) NOT NULL,
    client_id VARCHAR(36) NOT NULL,
    center_lid VARCHAR(50) NULL,
    patient_id VARCHAR(36) NULL REFERENCES patients (id),
    user_lid VARCHAR(50) NULL,
    file_type VARCHAR(10) NOT NULL,
    key_id VARCHAR(32) NOT NULL,
    filename_sealed VARBINARY(1024) NULL,
    code_hash VARCHAR(64) NOT NULL,
    id_number_hash VARCHAR(64) NOT NULL,
    content_nonce VARBINARY(12) NULL,
    content_size BIGINT NULL,
    content_chunks INTEGER NOT NULL,
    available_at DATETIME(6) NOT NULL,
    first_downloaded_at DATETIME(6) NULL,
    purged_at DATETIME(6) NULL,
    cancelled_at DATETIME(6) NULL,
    window_start DATETIME(6) NULL,
    window_failures INTEGER NOT NULL,
    failures_total INTEGER NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    INDEX test_results_code (code_hash),
    INDEX test_results_user_lid (user_lid, available_at),
    INDEX test_results_patient (patient_id, available_at),
    INDEX test_results_available (available_at),
    INDEX test_results_downloaded (first_downloaded_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The sealed content, cut into pieces of at most 1 MiB: one row per piece keeps every statement
-- under MariaDB's default max_allowed_packet (16 MiB) whatever the result's size.
CREATE TABLE test_result_chunks (
    result_id VARCHAR(36) NOT NULL REFERENCES test_results (id),
    seq INTEGER NOT NULL,
    data LONGBLOB NOT NULL,
    PRIMARY KEY (result_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The history of each result: intake, replacement, cancellation, purge, reads over SOAP, and
-- every download attempt on the patient page (unknown codes have no result_id). Never holds a
-- code or an ID number.
CREATE TABLE result_events (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    result_id VARCHAR(36) NULL,
    at DATETIME(6) NOT NULL,
    event VARCHAR(20) NOT NULL,
    outcome VARCHAR(20) NOT NULL,
    counts_as_failure BOOLEAN NOT NULL,
    address VARCHAR(64) NULL,
    actor VARCHAR(100) NULL,
    INDEX result_events_result (result_id, at),
    INDEX result_events_address (address, counts_as_failure, at),
    INDEX result_events_failures (counts_as_failure, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
