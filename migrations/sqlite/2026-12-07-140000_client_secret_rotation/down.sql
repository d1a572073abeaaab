ALTER TABLE api_clients DROP COLUMN previous_secret_until;
ALTER TABLE api_clients DROP COLUMN previous_secret_hash;
