-- The LAST_REQUEST_TIMESTAMPs getAppointments returned, per client: one sent back is read
-- exactly; any other is a poller's own clock, read with an overlap so that no change is missed.
CREATE TABLE change_feed_cursors (
    client_id VARCHAR(36) NOT NULL,
    cursor_at DATETIME(6) NOT NULL,
    PRIMARY KEY (client_id, cursor_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
