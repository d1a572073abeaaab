//! The Deputy sync: a fake Deputy install over real HTTP (`fake_deputy`), the client against
//! it (`client`), and the sync both ways through a real server (`sync`).

mod bench;
mod client;
pub mod fake_deputy;
mod support;
mod sync;
