//! The accept loop of `stoa serve`: hyper's HTTP/1 on each connection (with upgrades, for the
//! live sockets), under two limits no client can stretch — connections open at once
//! (`ServerConfig::max_connections`: one more is answered 503 and closed; past
//! [`REFUSING_AT_ONCE`] refusals still being answered, one more is closed at once, so a flood
//! cannot hold a socket each for the second a refusal may take) and the time to send
//! a request's headers (`ServerConfig::header_read_timeout`: a client that trickles them,
//! slowloris, is disconnected).

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::server::state::ServerConfig;

/// Connections past the cap answered 503 at once, at most; more are closed unanswered.
const REFUSING_AT_ONCE: usize = 256;

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets each
/// connection finish its request and returns once all have closed (live sockets, upgraded,
/// are no longer connections of hyper's and do not hold it up).
pub(crate) async fn serve(listener: TcpListener, app: Router, config: &ServerConfig, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(config.max_connections));
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    // Dropped to tell every connection to finish its request and close.
    let (stop_tx, stop_rx) = watch::channel(());
    // Each connection holds a receiver: `closed()` resolves once every one has ended.
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Live frames are small and answered at once: no Nagle delay waiting for an ACK.
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = open.clone().try_acquire_owned() else {
            if let Ok(refusal) = refusing.clone().try_acquire_owned() {
                tokio::spawn(refuse(tcp, config.max_connections, refusal));
            }
            continue;
        };
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(config.header_read_timeout);
        let service = TowerToHyperService::new(app.clone());
        let (mut stop, done) = (stop_rx.clone(), done_rx.clone());
        tokio::spawn(async move {
            let mut conn = pin!(http.serve_connection(TokioIo::new(Counted { tcp, _permit: permit }), service).with_upgrades());
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(done);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// After a failed accept: a connection the client gave up on is nothing; anything else
/// (`EMFILE`: no file descriptor left) is logged and waited out for a second, so the loop
/// does not spin while the condition lasts.
async fn accept_failed(e: io::Error) {
    if matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) {
        return;
    }
    tracing::error!("cannot accept a connection (retrying in 1 s): {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Answers a connection past the cap with a 503 naming the limit and closes it, within a
/// second. What the client sent is read and dropped until it closes, so that closing does
/// not reset the connection before the client has read the answer.
async fn refuse(mut tcp: TcpStream, cap: usize, _refusal: OwnedSemaphorePermit) {
    let body = format!("too many open connections: this server's limit is {cap} (--max-connections); try again\n");
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 1024];
        while tcp.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}

/// A connection counted against the cap until it is dropped: when hyper closes it, or when
/// the live socket it was upgraded to closes.
struct Counted {
    tcp: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
