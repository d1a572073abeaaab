//! The clinic contract's own wire forms (the "seed" specification), as leaves that any layer
//! may use: what the gateway sends to the clinic system's services.

pub mod clinic_cancel;
