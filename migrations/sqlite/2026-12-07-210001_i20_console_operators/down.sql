DROP INDEX message_attempts_finished;
DROP INDEX appointment_notices_message;
DROP TABLE console_login_failures;
DROP TABLE console_sessions;
DROP TABLE console_operators;
