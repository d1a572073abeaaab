DROP TABLE deputy_pushes;
DROP TABLE deputy_deleted_rosters;
DROP TABLE deputy_sync_state;
