-- The LAST_REQUEST_TIMESTAMPs getAppointments returned, per client: one sent back is read
-- exactly; any other is a poller's own clock, read with an overlap so that no change is missed.
CREATE TABLE change_feed_cursors (
    client_id TEXT NOT NULL,
    cursor_at TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, cursor_at)
);
