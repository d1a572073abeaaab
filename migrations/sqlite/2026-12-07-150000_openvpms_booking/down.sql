DROP INDEX patients_email;
DROP INDEX patients_landline_phone;
DROP INDEX patients_mobile_phone;
DROP TABLE online_bookings;
DROP TABLE online_ids;
DROP TABLE online_sequence;
ALTER TABLE activities DROP COLUMN online_booking;
ALTER TABLE centers DROP COLUMN online_booking;
