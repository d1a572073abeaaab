//! One test binary for the whole suite: the real server on port 0, real HTTP, a real SQLite file
//! per test and, built with `--features mysql`, a fresh MariaDB database per test as well.

mod helpers;
#[path = "../smtp/server.rs"]
mod smtp_server;

mod browser;

mod admin;
mod auth;
mod booking;
mod center_scope;
mod cli;
mod console;
mod deadlines;
mod deputy;
mod discovery;
mod fhir;
mod galera;
mod master_data;
mod memo;
mod messaging;
mod migrations;
mod openvpms;
mod openvpms_smoke;
mod ops;
mod outage;
mod results;
mod rosters;
mod slots;
mod soap_edge;
mod teams;
mod transactions;
mod use_cases;
mod workers;
mod wsdl_clients;
mod wsdl_required;
