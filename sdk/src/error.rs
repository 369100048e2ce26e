//! [`Error`], the one error type of the SDK, and the [`bail!`](crate::bail) and
//! [`ensure!`](crate::ensure) macros.
//!
//! Every error a game returns ends up as the WIT `err` string: the reason the sender reads
//! in its `{"error": ...}` frame, or the reason a bot run failed. So `Error` is just that
//! text, and anything that reads well (`String`, `&str`, serde errors) converts into it with `?`.

use std::fmt;

/// A game's reason for saying no: the text of the WIT `err` string.
///
/// Build one with [`bail!`](crate::bail) or [`ensure!`](crate::ensure), from a `String` or
/// `&str` with `.into()`, or let `?` convert a `serde_json::Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with this reason.
    pub fn new(reason: impl fmt::Display) -> Error {
        Error(reason.to_string())
    }

    /// The reason, as the sender will read it.
    pub fn message(&self) -> &str {
        &self.0
    }

    /// Prefixes the reason with `context: `, e.g. the step of a bot script that failed.
    #[must_use]
    pub fn context(self, context: impl fmt::Display) -> Error {
        Error(format!("{context}: {}", self.0))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Not `std::error::Error`: that would forbid the blanket-free `From<String>` below (the same
// trade-off anyhow makes), and a game has no use for error chains.

impl From<String> for Error {
    fn from(reason: String) -> Error {
        Error(reason)
    }
}

impl From<&str> for Error {
    fn from(reason: &str) -> Error {
        Error(reason.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error(e.to_string())
    }
}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.0
    }
}

/// Returns early with an [`Error`] built like `format!`.
///
/// ```
/// fn check(bid: i64) -> stoa_sdk::Result<()> {
///     if bid < 0 {
///         stoa_sdk::bail!("bid must be non-negative, got {bid}");
///     }
///     Ok(())
/// }
/// assert_eq!(check(-1).unwrap_err().message(), "bid must be non-negative, got -1");
/// ```
#[macro_export]
macro_rules! bail {
    ($($arg:tt)+) => {
        return ::core::result::Result::Err($crate::Error::new(::std::format!($($arg)+)))
    };
}

/// Returns early with an [`Error`] built like `format!` unless the condition holds.
///
/// ```
/// fn check(players: u32) -> stoa_sdk::Result<()> {
///     stoa_sdk::ensure!(players >= 2, "needs two players, the group has {players}");
///     Ok(())
/// }
/// assert!(check(3).is_ok());
/// assert!(check(1).is_err());
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            $crate::bail!($($arg)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_converts_strings_and_serde_errors() {
        fn from_string() -> Result<()> {
            Err(String::from("no"))?
        }
        fn from_serde() -> Result<i64> {
            Ok(serde_json::from_str::<i64>("\"x\"")?)
        }
        assert_eq!(from_string().expect_err("a string error").message(), "no");
        assert!(from_serde().expect_err("a type error").message().contains("invalid type"));
    }

    #[test]
    fn context_prefixes_the_reason() {
        assert_eq!(Error::from("boom").context("step 2").to_string(), "step 2: boom");
    }
}

/// A JSON value as text for an error message, cut to 80 characters (`...` marks the cut), so a
/// participant's huge payload cannot flood the error frame or the log.
pub fn short(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}
