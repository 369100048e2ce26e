//! [`Messages`], what a live call routes, and [`Message`], one routed message as a bot sees it.
//!
//! `to` is an id in the group (1-based) or 0 for the whole group (a broadcast: one message,
//! one seq, delivered to every player). Payloads are anything `Serialize`; they are
//! serialized as they are added, and a payload that cannot be (a map with non-string keys,
//! say) turns the call into an `Err` naming the message, so the builder itself never fails.

use serde::Serialize;
use serde_json::Value;

use crate::{Error, Result, wit};

/// The messages a live call routes, in order. Build with [`Messages::new`] and chain
/// [`to`](Messages::to) / [`broadcast`](Messages::broadcast):
///
/// ```
/// use stoa_sdk::{Messages, json};
/// let out = Messages::new()
///     .to(2, json!({"type": "rejected"}))
///     .broadcast(json!({"type": "new_max", "max_bid": 20}));
/// assert_eq!(out.len(), 2);
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "messages are only routed if live_method returns them"]
pub struct Messages {
    out: Vec<wit::Message>,
    /// The first payload that failed to serialize; reported when the call returns.
    error: Option<Error>,
}

impl Messages {
    /// No messages yet.
    pub fn new() -> Messages {
        Messages::default()
    }

    /// No messages at all: the call routes nothing (its field writes still commit).
    pub fn none() -> Messages {
        Messages::default()
    }

    /// One message to player `to` (0 = the whole group).
    pub fn reply(to: u32, payload: impl Serialize) -> Messages {
        Messages::new().to(to, payload)
    }

    /// One message to the whole group.
    pub fn to_group(payload: impl Serialize) -> Messages {
        Messages::new().broadcast(payload)
    }

    /// Adds a message to player `to` (1-based id in the group; 0 = the whole group).
    pub fn to(mut self, to: u32, payload: impl Serialize) -> Messages {
        self.push(to, payload);
        self
    }

    /// Adds a message to the whole group (`to` = 0).
    pub fn broadcast(self, payload: impl Serialize) -> Messages {
        self.to(0, payload)
    }

    /// Adds a message whose payload is already JSON text, without serializing it again (for
    /// large payloads). The host checks that it is JSON.
    pub fn to_raw(mut self, to: u32, json: String) -> Messages {
        self.out.push(wit::Message { to, payload: json });
        self
    }

    /// Adds a message in place, for loops: `for id in ctx.player_ids() { out.push(id, ..); }`.
    pub fn push(&mut self, to: u32, payload: impl Serialize) -> &mut Messages {
        match serde_json::to_string(&payload) {
            Ok(payload) => self.out.push(wit::Message { to, payload }),
            Err(e) => {
                let n = self.out.len() + 1;
                self.error.get_or_insert_with(|| Error::new(format_args!("message {n} (to {to}): payload cannot be serialized: {e}")));
            }
        }
        self
    }

    /// How many messages have been added.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no message has been added.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The WIT list, or the first serialization failure.
    pub(crate) fn into_wit(self) -> Result<Vec<wit::Message>> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }
}

/// One message routed by a live call, as [`bot::live_method`](crate::bot::live_method)
/// returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The player it went to (1-based), or 0 if it went to the whole group.
    pub to: u32,
    /// The payload, parsed.
    pub payload: Value,
}

impl Message {
    /// Whether it went to the whole group.
    pub fn is_broadcast(&self) -> bool {
        self.to == 0
    }

    /// Parses a WIT message; a payload that is not JSON is an error naming the recipient.
    pub(crate) fn from_wit(m: wit::Message) -> Result<Message> {
        let payload = serde_json::from_str(&m.payload).map_err(|e| Error::new(format_args!("message to {} is not valid JSON: {e}", m.to)))?;
        Ok(Message { to: m.to, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn builder_keeps_order_and_recipients() {
        let out = Messages::reply(2, "a").broadcast(1).into_wit().expect("serializable");
        let got: Vec<(u32, &str)> = out.iter().map(|m| (m.to, m.payload.as_str())).collect();
        assert_eq!(got, [(2, "\"a\""), (0, "1")]);
    }

    #[test]
    fn unserializable_payload_fails_the_call_naming_the_message() {
        let bad: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
        let e = Messages::new().to(1, "ok").to(3, bad).into_wit().expect_err("tuple keys");
        assert!(e.message().starts_with("message 2 (to 3): payload cannot be serialized"), "{e}");
    }
}
