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
    filename_sealed BLOB NULL,
    code_hash VARCHAR(64) NOT NULL,
    id_number_hash VARCHAR(64) NOT NULL,
    content_nonce BLOB NULL,
    content_size BIGINT NULL,
    content_chunks INTEGER NOT NULL,
    available_at TIMESTAMP NOT NULL,
    first_downloaded_at TIMESTAMP NULL,
    purged_at TIMESTAMP NULL,
    cancelled_at TIMESTAMP NULL,
    window_start TIMESTAMP NULL,
    window_failures INTEGER NOT NULL,
    failures_total INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX test_results_code ON test_results (code_hash);
CREATE INDEX test_results_user_lid ON test_results (user_lid, available_at);
CREATE INDEX test_results_patient ON test_results (patient_id, available_at);
CREATE INDEX test_results_available ON test_results (available_at);
CREATE INDEX test_results_downloaded ON test_results (first_downloaded_at);

-- The sealed content, cut into pieces of at most 1 MiB (MariaDB's max_allowed_packet; the same
-- layout on both backends).
CREATE TABLE test_result_chunks (
    result_id VARCHAR(36) NOT NULL REFERENCES test_results (id),
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (result_id, seq)
);

-- The history of each result: intake, replacement, cancellation, purge, reads over SOAP, and
-- every download attempt on the patient page (unknown codes have no result_id). Never holds a
-- code or an ID number.
CREATE TABLE result_events (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    result_id VARCHAR(36) NULL,
    at TIMESTAMP NOT NULL,
    event VARCHAR(20) NOT NULL,
    outcome VARCHAR(20) NOT NULL,
    counts_as_failure BOOLEAN NOT NULL,
    address VARCHAR(64) NULL,
    actor VARCHAR(100) NULL
);
CREATE INDEX result_events_result ON result_events (result_id, at);
CREATE INDEX result_events_address ON result_events (address, counts_as_failure, at);
CREATE INDEX result_events_failures ON result_events (counts_as_failure, at);
