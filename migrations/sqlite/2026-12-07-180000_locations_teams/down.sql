DROP TABLE access_version;
DROP TABLE access_audit;
ALTER TABLE api_clients DROP COLUMN location_scoped;
DROP TABLE principal_grants;
DROP TABLE team_assignments;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE locations;
