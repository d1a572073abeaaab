-- Issue 17/20: the last Deputy polls, one row each (kept bounded: the poll that writes a row
-- prunes the oldest in the same transaction). kind: 'delta' (changes since the watermark),
-- 'full' (the whole window) or 'manual' (`rendez deputy sync`); outcome: 'ok' or 'failed' with
-- its reason in error. Never the token.
CREATE TABLE deputy_polls (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    kind VARCHAR(8) NOT NULL,
    full_pass BOOLEAN NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    requests INTEGER NOT NULL,
    rows_read INTEGER NOT NULL,
    changes INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    ok BOOLEAN NOT NULL,
    error TEXT NULL
);
CREATE INDEX deputy_polls_started ON deputy_polls (started_at);

-- A sync error's center when it is known without a Rendez shift (a Deputy roster whose
-- operational unit is mapped, or that Rendez holds as a shift): its operators see it.
ALTER TABLE roster_sync_errors ADD COLUMN center_id VARCHAR(36) NULL;
