-- Issue 17: the Deputy sync's own state, beside the rosters' tables.
--
-- One row (name 'deputy'): the poll's watermark (Deputy's Modified up to which every change has
-- been applied; it commits in the same transaction as the changes it covers, so a poll is never
-- half-applied), when the last poll and full pass ran, and what they did.
CREATE TABLE deputy_sync_state (
    name VARCHAR(16) NOT NULL PRIMARY KEY,
    watermark DATETIME(6) NULL,
    last_poll_at DATETIME(6) NULL,
    last_poll_ok_at DATETIME(6) NULL,
    last_full_pass_at DATETIME(6) NULL,
    last_outcome TEXT NULL,
    last_requests INTEGER NOT NULL,
    last_changes INTEGER NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Rosters Deputy deleted: their ids never come back, so a late insert or update of one is
-- ignored (a roster only unpublished may come back; a deleted one may not).
CREATE TABLE deputy_deleted_rosters (
    roster_id BIGINT NOT NULL PRIMARY KEY,
    deleted_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The pushes of Rendez's shifts to Deputy: a shift is due while its version is past the one
-- last in step with Deputy (synced_version). Applying Deputy's own change sets synced_version
-- in the same transaction, so nothing that came from Deputy goes back. Claimed with a lease
-- (claim_token, lease_until), retried with backoff (attempts, due_at), the last failure kept;
-- rows live as long as their shift, so nothing is lost over a restart.
CREATE TABLE deputy_pushes (
    shift_id VARCHAR(36) NOT NULL PRIMARY KEY,
    synced_version BIGINT NULL,
    attempts INTEGER NOT NULL,
    due_at DATETIME(6) NOT NULL,
    claim_token VARCHAR(36) NULL,
    lease_until DATETIME(6) NULL,
    last_error TEXT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX deputy_pushes_due ON deputy_pushes (due_at);
