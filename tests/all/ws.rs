//! A real WebSocket client for the live channel (tokio-tungstenite), shared by the tests.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::TestServer;

/// A client socket.
pub(crate) type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/live/{code}?{query}` on `server`.
pub(crate) async fn connect(server: &TestServer, code: &str, query: &str) -> Ws {
    let url = format!("ws://{}/live/{code}?{query}", server.addr);
    tokio_tungstenite::connect_async(url).await.expect("connect").0
}

/// Sends one text frame.
pub(crate) async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into())).await.expect("send");
}

/// The next text frame as JSON, or None after `wait`.
pub(crate) async fn next(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).expect("frame is JSON")),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("socket error: {e}"),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// The next frame, which must come within 5 s.
pub(crate) async fn expect(ws: &mut Ws) -> Value {
    next(ws, Duration::from_secs(5)).await.expect("a frame within 5 s")
}

/// No frame for 300 ms.
pub(crate) async fn expect_silence(ws: &mut Ws) {
    if let Some(f) = next(ws, Duration::from_millis(300)).await {
        panic!("expected no frame, got {f}");
    }
}

/// Round trips of `n` bids on an auction's live page, from bid `from` on, each until the
/// sender sees its own new maximum; sorted.
pub(crate) async fn bid_round_trips(ws: &mut Ws, from: u64, n: u64) -> Vec<Duration> {
    let mut out = Vec::new();
    for bid in from..from + n {
        let t = Instant::now();
        send(ws, &serde_json::json!({ "bid": bid }).to_string()).await;
        loop {
            let frame = next(ws, Duration::from_secs(20)).await.expect("a frame within 20 s");
            if frame["data"]["max_bid"] == bid {
                break;
            }
        }
        out.push(t.elapsed());
    }
    out.sort();
    out
}
