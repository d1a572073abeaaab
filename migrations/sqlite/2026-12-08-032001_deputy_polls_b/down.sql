DROP TABLE deputy_polls;
ALTER TABLE roster_sync_errors DROP COLUMN center_id;
