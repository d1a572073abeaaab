//! Outbound adapters to other systems' APIs (Deputy's rosters).

pub mod deputy;
