-- The version of a FHIR PractitionerRole (a resource at a center, by its online_ids number):
-- moved by every FHIR write of the role, checked against If-Match. A role never written has
-- no row and is at version 1.
CREATE TABLE role_versions (
    number BIGINT NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
