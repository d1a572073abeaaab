DROP TABLE roster_sync_errors;
DROP TABLE roster_conflicts;
DROP TABLE deputy_employees;
DROP TABLE deputy_units;
DROP TABLE resource_availability_modes;
DROP TABLE roster_breaks;
DROP TABLE roster_shifts;
