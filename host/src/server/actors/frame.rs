//! [`Frame`]: a text frame to a live client, its kind known without reading its text.

use std::sync::Arc;

/// One text frame to a client, as queued for its socket.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// A routed message, `{"seq": N, "data": P}` (the text of [`crate::live::Routed::frame`]).
    Message(Arc<str>),
    /// `{"error": reason}`, to one socket alone: its call or replay failed.
    Error(Arc<str>),
}

impl Frame {
    /// The frame `{"error": reason}`.
    pub(crate) fn error(reason: &str) -> Frame {
        Frame::Error(serde_json::json!({ "error": reason }).to_string().into())
    }

    /// The text sent on the wire.
    pub(crate) fn text(&self) -> &str {
        match self {
            Frame::Message(text) | Frame::Error(text) => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_frame_is_the_reason_as_json() {
        let frame = Frame::error("page `A` has \"no\" live channel");
        assert!(matches!(frame, Frame::Error(_)));
        assert_eq!(frame.text(), r#"{"error":"page `A` has \"no\" live channel"}"#);
    }
}
