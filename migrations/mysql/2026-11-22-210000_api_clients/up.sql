CREATE TABLE api_clients (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL UNIQUE,
    roles VARCHAR(100) NOT NULL,
    centers TEXT NOT NULL,
    secret_hash VARCHAR(255) NOT NULL,
    digest_secret TEXT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A PasswordDigest nonce is remembered here so that it is accepted once, across restarts and
-- across processes sharing the database; the key is a hash of client name and nonce.
CREATE TABLE ws_nonces (
    nonce_key VARCHAR(64) NOT NULL PRIMARY KEY,
    seen_at DATETIME(6) NOT NULL,
    INDEX ws_nonces_seen_at (seen_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
