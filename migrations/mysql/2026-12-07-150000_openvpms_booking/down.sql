DROP TABLE online_bookings;
DROP TABLE online_ids;
ALTER TABLE activities DROP COLUMN online_booking;
ALTER TABLE centers DROP COLUMN online_booking;
