ALTER TABLE resources DROP COLUMN booking_version;
DROP TABLE booking_versions;
