//! Shared hosting: researchers' accounts and quotas, and the game packages they upload.
//!
//! - [`accounts`]: researcher accounts (passwords, tokens, quotas) in the database.
//! - [`upload`]: an uploaded package (tar.gz) checked, unpacked and loaded.
//! - [`usage`]: what counts against a researcher's stored-bytes quota (uploads and session
//!   data), and the verdict live calls read.

pub mod accounts;
pub mod upload;
pub mod usage;
