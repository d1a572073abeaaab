-- One row per address that made download attempts on the patient page, locked by each attempt
-- from that address before it counts the address's recent failures (result_events): attempts
-- from one address are judged one after the other in every process sharing the database, so
-- the per-address limit is exact. Holds no code and no ID number.
CREATE TABLE result_address_guards (
    address TEXT NOT NULL PRIMARY KEY,
    touched_at TIMESTAMP NOT NULL
);
CREATE INDEX result_address_guards_touched ON result_address_guards (touched_at);
