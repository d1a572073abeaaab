ALTER TABLE booking_requests DROP COLUMN contacts_kept;
