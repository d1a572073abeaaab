-- Whether a booking kept the stored contact data of a patient the booking client may not change
-- (CONTACTS_KEPT in the addAppointment answer), so that a retried REQUEST_ID answers it again.
ALTER TABLE booking_requests ADD COLUMN contacts_kept BOOLEAN NOT NULL DEFAULT FALSE;
