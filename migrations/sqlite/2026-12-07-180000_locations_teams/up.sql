-- Issue 18: a location hierarchy above the centers, teams assigned to it, and separate view
-- and edit scopes for every principal (an API client today, a console operator later).
--
-- Every level has a row here, centers included (level 'center' or whatever the import says),
-- keyed by the LID the centers table already uses. Centers get a row rather than a parent
-- column because the master data push owns the centers table and rewrites it, while the
-- hierarchy comes from elsewhere (an import, the admin API); a center may be placed before
-- its master data arrives; and one LID namespace for every level means a district and a
-- center can never share a LID. A center under two parents is impossible by the key.
CREATE TABLE locations (
    lid VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    parent_lid VARCHAR(64) NULL,
    level VARCHAR(40) NOT NULL,
    voided_at TIMESTAMP NULL
);
CREATE INDEX locations_parent ON locations (parent_lid);

-- Organizations of type team; a voided team stays (history), and grants nothing.
CREATE TABLE teams (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    voided_at TIMESTAMP NULL
);

-- A principal's membership of a team with its role (leader | member); leaving sets left_at,
-- the row stays.
CREATE TABLE team_members (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    team_id VARCHAR(36) NOT NULL REFERENCES teams (id),
    principal_id VARCHAR(36) NOT NULL,
    role VARCHAR(16) NOT NULL,
    joined_at TIMESTAMP NOT NULL,
    left_at TIMESTAMP NULL
);
CREATE INDEX team_members_principal ON team_members (principal_id);

-- A team assigned to a location at any level, valid from valid_from to valid_to (inclusive
-- days; no end: open); view_only assignments add to the view scope only.
CREATE TABLE team_assignments (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    team_id VARCHAR(36) NOT NULL REFERENCES teams (id),
    location_lid VARCHAR(64) NOT NULL,
    valid_from DATE NOT NULL,
    valid_to DATE NULL,
    view_only BOOLEAN NOT NULL DEFAULT FALSE,
    voided_at TIMESTAMP NULL
);
CREATE INDEX team_assignments_team ON team_assignments (team_id);
CREATE INDEX team_assignments_location ON team_assignments (location_lid);

-- A principal's own grants: scope is 'view' or 'edit'.
CREATE TABLE principal_grants (
    principal_id VARCHAR(36) NOT NULL,
    location_lid VARCHAR(64) NOT NULL,
    scope VARCHAR(8) NOT NULL,
    PRIMARY KEY (principal_id, location_lid, scope)
);

-- A client whose scope comes from grants and teams: its empty centers list no longer means
-- every center.
ALTER TABLE api_clients ADD COLUMN location_scoped BOOLEAN NOT NULL DEFAULT FALSE;

-- Who changed what, when, with the state before and after (JSON).
CREATE TABLE access_audit (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    actor VARCHAR(200) NOT NULL,
    action VARCHAR(40) NOT NULL,
    subject VARCHAR(200) NOT NULL,
    before_state TEXT NULL,
    after_state TEXT NULL
);

-- Bumped in the transaction of every change above: a process compares it to reuse the scopes
-- it resolved.
CREATE TABLE access_version (
    name VARCHAR(16) NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO access_version (name, version) VALUES ('access', 0);
