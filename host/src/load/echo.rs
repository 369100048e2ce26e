//! `stoa echo`: the ceiling `stoa load` measures Stoa against — a bare tokio-tungstenite
//! server with the runtime and socket settings of `stoa serve` (multi-thread tokio, no
//! Nagle, 4 KiB read buffers), answering every text frame with
//! itself on the same socket. No JSON, no game, no store: what the machine, the kernel's
//! loopback and the WebSocket framing allow.

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Serves echo sockets on `listener` (any path) until the process ends.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(super::ws_config())).await else { return };
            while let Some(Ok(msg)) = ws.next().await {
                let echo = matches!(msg, Message::Text(_) | Message::Binary(_));
                if matches!(msg, Message::Close(_)) || (echo && ws.send(msg).await.is_err()) {
                    return;
                }
            }
        });
    }
}
