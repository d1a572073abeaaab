DROP INDEX message_attempts_finished ON message_attempts;
DROP INDEX appointment_notices_message ON appointment_notices;
DROP TABLE console_login_failures;
DROP TABLE console_sessions;
DROP TABLE console_operators;
