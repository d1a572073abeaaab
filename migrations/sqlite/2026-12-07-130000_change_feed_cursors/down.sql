DROP TABLE change_feed_cursors;
