-- Freshness of the booking cache (every gateway process keeps master data and live appointments
-- in memory for searchAvailabilities). Every change of master data bumps the 'master' row, and
-- every booking or cancellation bumps its resource's booking_version, in the transaction of the
-- change; processes compare these counters to what they hold at most every second. A booking
-- bumps the row it has locked already, so versions add no contention between resources.
CREATE TABLE booking_versions (
    scope VARCHAR(20) NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO booking_versions (scope, version) VALUES ('master', 0);
ALTER TABLE resources ADD COLUMN booking_version BIGINT NOT NULL DEFAULT 0;
