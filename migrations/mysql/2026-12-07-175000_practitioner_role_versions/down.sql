DROP TABLE role_versions;
