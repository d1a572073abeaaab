-- Bearer tokens of API clients (`rendez client token NAME`): only a SHA-256 of each random
-- token is kept; a revoked token keeps its row with the time it was revoked.
CREATE TABLE client_tokens (
    token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    client_id VARCHAR(36) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    revoked_at DATETIME(6) NULL,
    KEY client_tokens_client (client_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
