//! The Deputy sync: a fake Deputy install over real HTTP (`fake_deputy`) and the client
//! against it (`client`).

mod client;
pub mod fake_deputy;
