//! The keys and primitives every layer may need, as leaves that import nothing of ours: the
//! server's secret key (signed links, encrypted digest secrets), password hashing, clients'
//! bearer tokens, and the keyring that seals test results.

pub mod bearer;
pub mod keyring;
pub mod password;
pub mod secret_key;

pub use keyring::Keyring;
pub use password::{check_new_secret, hash_secret, verify_secret};
pub use secret_key::{KeySource, SecretKey};
