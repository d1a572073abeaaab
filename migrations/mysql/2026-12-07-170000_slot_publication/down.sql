DROP TABLE slot_conflicts;
DROP TABLE slot_runs;
DROP TABLE slots;
DROP TABLE slot_roles;
DROP TABLE slot_events;
