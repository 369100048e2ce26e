//! `stoa echo`: the ceiling `stoa load` measures Stoa against — a bare tokio-tungstenite
//! server with the runtime and socket settings of `stoa serve` (multi-thread tokio, no
//! Nagle, 4 KiB read buffers), answering every text frame with
//! itself on the same socket. No JSON, no game, no store: what the machine, the kernel's
//! loopback and the WebSocket framing allow.
//!
//! `stoa echo --durable DIR` is the second ceiling: every frame is appended to Stoa's own live
//! journal (`crate::journal`) in `DIR` and echoed once the write that covers it is on disk —
//! what a server whose every message is durable can do on this machine and disk, with no game
//! and no store.

use std::path::Path;
use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::journal::{Fs, Journal, NothingElse};

/// Accepts sockets on `listener` (any path) until the process ends, with the socket settings
/// of `stoa serve`, and runs `handle` on each in a task of its own.
async fn serve_each<F, Fut>(listener: TcpListener, handle: F) -> std::io::Result<()>
where
    F: Fn(WebSocketStream<TcpStream>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let handle = handle.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            if let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(super::config::ws_config())).await {
                handle(ws).await;
            }
        });
    }
}

/// Serves echo sockets on `listener` (any path) until the process ends.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    serve_each(listener, |mut ws| async move {
        while let Some(Ok(msg)) = ws.next().await {
            let echo = matches!(msg, Message::Text(_) | Message::Binary(_));
            if matches!(msg, Message::Close(_)) || (echo && ws.send(msg).await.is_err()) {
                return;
            }
        }
    })
    .await
}

/// A live journal in `dir` (created if missing; records left by an earlier run are dropped)
/// for [`serve_durable`].
pub struct DurableLog {
    journal: Journal,
}

impl DurableLog {
    pub fn open(dir: &Path) -> std::io::Result<DurableLog> {
        let segments = Arc::new(Fs::new(dir.join("journal")));
        let (journal, _) = Journal::open(segments, &mut |_, _| Ok(()), Arc::new(NothingElse), Default::default()).map_err(std::io::Error::other)?;
        Ok(DurableLog { journal })
    }
}

/// Serves echo sockets on `listener` whose every text or binary frame is appended to `log`
/// and echoed once it is on disk, in the order received.
pub async fn serve_durable(listener: TcpListener, log: Arc<DurableLog>) -> std::io::Result<()> {
    serve_each(listener, move |ws| {
        let log = log.clone();
        async move {
            let (mut sink, mut stream) = ws.split();
            let (tx, mut durable) = mpsc::unbounded_channel::<Message>();
            let writer = tokio::spawn(async move {
                while let Some(mut msg) = durable.recv().await {
                    loop {
                        if sink.feed(msg).await.is_err() {
                            return;
                        }
                        match durable.try_recv() {
                            Ok(next) => msg = next,
                            Err(_) => break,
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
            });
            while let Some(Ok(msg)) = stream.next().await {
                let bytes = match &msg {
                    Message::Text(t) => t.as_bytes(),
                    Message::Binary(b) => b.as_ref(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                if let Err(refused) = log.journal.append(b"echo", bytes) {
                    let _ = tx.send(Message::Text(serde_json::json!({ "error": refused.to_string() }).to_string().into()));
                    continue;
                }
                let tx = tx.clone();
                log.journal.after(Box::new(move |written| {
                    let _ = tx.send(match written {
                        Ok(()) => msg,
                        Err(reason) => Message::Text(serde_json::json!({ "error": format!("not durable: {reason}") }).to_string().into()),
                    });
                }));
            }
            drop(tx);
            let _ = writer.await;
        }
    })
    .await
}
