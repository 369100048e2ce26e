//! A game's stdout and stderr: kept in memory up to a cap, then logged tagged with the game,
//! session and group. Past the cap, writes still succeed and are dropped, so a chatty game is
//! not killed by its own logging (Rust's `println!` panics on a failed write).

use std::sync::{Arc, Mutex};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A capped in-memory pipe; clones share the buffer.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    inner: Arc<Mutex<Buffer>>,
}

struct Buffer {
    bytes: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl GuestOutput {
    pub(crate) fn new(cap: usize) -> GuestOutput {
        GuestOutput { inner: Arc::new(Mutex::new(Buffer { bytes: Vec::new(), cap, dropped: 0 })) }
    }

    fn push(&self, data: &[u8]) {
        let mut b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = b.cap.saturating_sub(b.bytes.len());
        let take = room.min(data.len());
        b.bytes.extend_from_slice(&data[..take]);
        b.dropped += data.len() - take;
    }

    /// What was written so far, as lossy UTF-8, left in place.
    pub(crate) fn peek(&self) -> String {
        let b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&b.bytes).into_owned()
    }

    /// What was written, as lossy UTF-8, and how many bytes past the cap were dropped.
    pub(crate) fn take(&self) -> (String, usize) {
        let mut b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&b.bytes).into_owned();
        b.bytes.clear();
        (text, std::mem::take(&mut b.dropped))
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_past_the_cap_are_dropped_and_counted() {
        let out = GuestOutput::new(4);
        out.push(b"hello");
        out.push(b"!");
        assert_eq!(out.take(), ("hell".to_string(), 2));
        assert_eq!(out.take(), (String::new(), 0));
    }
}
