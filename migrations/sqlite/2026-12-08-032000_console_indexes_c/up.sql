-- Issue 20: every list and count of the operator console reads through an index.
-- Appointments (the center and start index exists since the imports): by start (the whole list,
-- newest first) and by status and start.
CREATE INDEX appointments_start ON appointments (start_at);
CREATE INDEX appointments_status_start ON appointments (status, start_at);
-- The appointment list's patient search: a name's start.
CREATE INDEX patients_first_name ON patients (first_name);
CREATE INDEX patients_second_name ON patients (second_name);
-- The message list, newest first: unfiltered, by channel and state (which also counts the recent
-- finished messages of each channel and state), by state, by recipient.
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_channel_status_created ON messages (channel, status, created_at);
CREATE INDEX messages_status_created ON messages (status, created_at);
CREATE INDEX messages_recipient_created ON messages (recipient, created_at);
-- The overview's delivery rate per provider: messages sent since an instant (covering).
CREATE INDEX messages_sent ON messages (sent_at, provider, channel, status);
-- A timeline's replies.
CREATE INDEX sms_replies_appointment ON sms_replies (appointment_id, received_at);
