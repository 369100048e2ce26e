//! Shared hosting: researchers' accounts and quotas, and the game packages they upload.
//!
//! - [`accounts`]: researcher accounts (passwords, tokens, quotas) in the database.
//! - [`upload`]: an uploaded package (tar.gz) checked, unpacked and loaded.

pub mod accounts;
pub mod upload;
