//! Per-call sandbox limits: each has a host default, a game may ask for other values in its
//! manifest's `[limits]` table, and the host refuses anything above its maximum.

use std::time::Duration;

use serde::Deserialize;

/// The limits one game's calls run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one call (epoch deadline); past it the call traps.
    pub deadline: Duration,
    /// Budget of a whole bot run (`call-live-method` with its nested live calls).
    pub bot_deadline: Duration,
    /// Linear memory of one instance; a grow past it fails, which a game usually turns into a trap.
    pub memory_bytes: u64,
    /// Total bytes of the payloads one call routes.
    pub output_bytes: usize,
    /// Messages one call may route.
    pub messages: usize,
    /// Bytes of one field value (its JSON text).
    pub field_bytes: usize,
    /// Bytes of all the field values one call writes (each field's last value counts).
    pub call_write_bytes: usize,
}

impl Limits {
    /// The defaults a game gets when its manifest says nothing.
    pub const DEFAULT: Limits = Limits {
        deadline: Duration::from_millis(100),
        bot_deadline: Duration::from_secs(30),
        memory_bytes: 128 << 20,
        output_bytes: 1 << 20,
        messages: 1_000,
        field_bytes: 1 << 20,
        call_write_bytes: 4 << 20,
    };

    /// The most a game may ask for on a default host.
    pub const MAX: Limits = Limits {
        deadline: Duration::from_secs(5),
        bot_deadline: Duration::from_secs(300),
        memory_bytes: 512 << 20,
        output_bytes: 16 << 20,
        messages: 100_000,
        field_bytes: 16 << 20,
        call_write_bytes: 64 << 20,
    };
}

/// The `[limits]` table of a manifest: every key optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// `deadline_ms`: per-call deadline in milliseconds.
    pub deadline_ms: Option<u64>,
    /// `bot_deadline_ms`: whole bot run in milliseconds.
    pub bot_deadline_ms: Option<u64>,
    /// `memory_mb`: memory per instance in MiB.
    pub memory_mb: Option<u64>,
    /// `output_bytes`: routed payload bytes per call.
    pub output_bytes: Option<usize>,
    /// `messages`: messages per call.
    pub messages: Option<usize>,
    /// `field_bytes`: bytes of one field value.
    pub field_bytes: Option<usize>,
    /// `call_write_bytes`: bytes of all the field values one call writes.
    pub call_write_bytes: Option<usize>,
}

impl LimitOverrides {
    /// Applies the overrides to `defaults`; a value of zero or above `max` is refused, naming
    /// the key (`limits.memory_mb`) and the reason.
    pub fn resolve(&self, defaults: &Limits, max: &Limits) -> Result<Limits, (String, String)> {
        fn pick<T: Copy + PartialOrd + std::fmt::Display>(key: &str, asked: Option<T>, default: T, max: T, zero: T) -> Result<T, (String, String)> {
            match asked {
                None => Ok(if default > max { max } else { default }),
                Some(v) if v <= zero => Err((format!("limits.{key}"), "must be greater than 0".into())),
                Some(v) if v > max => Err((format!("limits.{key}"), format!("{v} is above the host maximum of {max}"))),
                Some(v) => Ok(v),
            }
        }
        let ms = |d: Duration| d.as_millis() as u64;
        Ok(Limits {
            deadline: Duration::from_millis(pick("deadline_ms", self.deadline_ms, ms(defaults.deadline), ms(max.deadline), 0)?),
            bot_deadline: Duration::from_millis(pick("bot_deadline_ms", self.bot_deadline_ms, ms(defaults.bot_deadline), ms(max.bot_deadline), 0)?),
            memory_bytes: pick("memory_mb", self.memory_mb, defaults.memory_bytes >> 20, max.memory_bytes >> 20, 0)? << 20,
            output_bytes: pick("output_bytes", self.output_bytes, defaults.output_bytes, max.output_bytes, 0)?,
            messages: pick("messages", self.messages, defaults.messages, max.messages, 0)?,
            field_bytes: pick("field_bytes", self.field_bytes, defaults.field_bytes, max.field_bytes, 0)?,
            call_write_bytes: pick("call_write_bytes", self.call_write_bytes, defaults.call_write_bytes, max.call_write_bytes, 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_overrides_gives_the_defaults() {
        let l = LimitOverrides::default().resolve(&Limits::DEFAULT, &Limits::MAX).expect("defaults fit");
        assert_eq!(l, Limits::DEFAULT);
    }

    #[test]
    fn an_override_within_the_maximum_is_taken() {
        let o = LimitOverrides { memory_mb: Some(256), deadline_ms: Some(250), ..Default::default() };
        let l = o.resolve(&Limits::DEFAULT, &Limits::MAX).expect("fits");
        assert_eq!(l.memory_bytes, 256 << 20);
        assert_eq!(l.deadline, Duration::from_millis(250));
    }

    #[test]
    fn an_override_above_the_maximum_names_the_key() {
        let o = LimitOverrides { memory_mb: Some(4096), ..Default::default() };
        let (key, reason) = o.resolve(&Limits::DEFAULT, &Limits::MAX).expect_err("too much");
        assert_eq!(key, "limits.memory_mb");
        assert!(reason.contains("maximum of 512"), "{reason}");
        let o = LimitOverrides { call_write_bytes: Some(65 << 20), ..Default::default() };
        assert_eq!(o.resolve(&Limits::DEFAULT, &Limits::MAX).expect_err("too much").0, "limits.call_write_bytes");
    }

    #[test]
    fn zero_is_refused() {
        let o = LimitOverrides { deadline_ms: Some(0), ..Default::default() };
        assert_eq!(o.resolve(&Limits::DEFAULT, &Limits::MAX).expect_err("zero").0, "limits.deadline_ms");
    }
}
