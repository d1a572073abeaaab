-- Issue 20: the operator console. Operators are principals like API clients (their scopes come
-- from their own grants in principal_grants and their teams), kept apart from api_clients so that
-- an operator's password never opens SOAP, REST or FHIR, and a client's never opens the console.
CREATE TABLE console_operators (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL UNIQUE,
    roles VARCHAR(100) NOT NULL,
    password_hash VARCHAR(200) NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);

-- A signed-in operator's session: only a SHA-256 of the cookie's random id is kept, so that a
-- read of this table opens no session. The CSRF token is the session's synchronizer token.
CREATE TABLE console_sessions (
    id_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    operator_id VARCHAR(36) NOT NULL,
    csrf_token VARCHAR(64) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP NULL
);
CREATE INDEX console_sessions_operator ON console_sessions (operator_id);

-- Failed sign-ins per subject ('account:NAME' or 'address:IP') in the current window, and the
-- lockout they led to: shared by every process on the database.
CREATE TABLE console_login_failures (
    subject VARCHAR(240) NOT NULL PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP NULL
);

-- The console's message list of a scoped operator goes from a center's appointments to their
-- notices' messages.
CREATE INDEX appointment_notices_message ON appointment_notices (message_id);
-- The overview's sends and failures per hour.
CREATE INDEX message_attempts_finished ON message_attempts (finished_at);
