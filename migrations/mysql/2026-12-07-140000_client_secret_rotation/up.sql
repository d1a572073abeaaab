-- A rotated client secret: the previous one still works until previous_secret_until, so that
-- the clinic can change its systems' configuration without a gap.
ALTER TABLE api_clients ADD COLUMN previous_secret_hash TEXT NULL;
ALTER TABLE api_clients ADD COLUMN previous_secret_until DATETIME(6) NULL;
