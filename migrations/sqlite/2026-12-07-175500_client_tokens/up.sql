-- Bearer tokens of API clients (`rendez client token NAME`): only a SHA-256 of each random
-- token is kept; a revoked token keeps its row with the time it was revoked.
CREATE TABLE client_tokens (
    token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    client_id VARCHAR(36) NOT NULL REFERENCES api_clients (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP NULL
);
CREATE INDEX client_tokens_client ON client_tokens (client_id);
