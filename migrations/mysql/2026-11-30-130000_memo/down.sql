DROP TABLE sms_replies;
DROP TABLE sms_opt_outs;
DROP TABLE appointment_notices;
DROP INDEX appointment_changes_unplanned ON appointment_changes;
ALTER TABLE appointment_changes DROP COLUMN planned_at;
