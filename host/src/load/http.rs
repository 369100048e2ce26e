//! The few HTTP/1.1 requests `stoa load` makes before its sockets open (create a session,
//! open each participant's page), on hyper-util's client.

use anyhow::Context as _;
use axum::http::{Method, Request, header};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A response: status and body.
#[derive(Debug)]
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) body: String,
}

/// A client of one server.
pub(super) struct Http {
    /// `host:port`.
    addr: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    /// A client of `addr` (`host:port`). It keeps no idle connection, so none stays open on
    /// the server while the run is measured.
    pub(super) fn new(addr: &str) -> Http {
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http();
        Http { addr: addr.to_string(), client }
    }

    /// `method path`, with an optional bearer token and JSON body.
    pub(super) async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<String>) -> anyhow::Result<Response> {
        let mut request = Request::builder().method(&method).uri(format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default()))).with_context(|| format!("{method} {path}: bad request"))?;
        let response = self.client.request(request).await.map_err(|e| {
            let context = if e.is_connect() { format!("cannot connect to {}", self.addr) } else { format!("{method} {path}: bad HTTP response") };
            anyhow::Error::new(e).context(context)
        })?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.with_context(|| format!("{method} {path}: reading the response"))?.to_bytes();
        Ok(Response { status, body: String::from_utf8_lossy(&body).into_owned() })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A server on a free loopback port answering one request with `raw`; its `host:port`.
    async fn answering(raw: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut head = [0; 1024];
            let _ = socket.read(&mut head).await;
            let _ = socket.write_all(raw).await;
        });
        addr
    }

    #[tokio::test]
    async fn plain_and_chunked_bodies() {
        let plain = answering(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}").await;
        let r = Http::new(&plain).request(Method::POST, "/api/sessions", Some("t"), Some("{}".into())).await.expect("plain");
        assert_eq!((r.status, r.body.as_str()), (201, "{}"));
        let chunked = answering(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").await;
        let r = Http::new(&chunked).request(Method::GET, "/p/x", None, None).await.expect("chunked");
        assert_eq!((r.status, r.body.as_str()), (200, "abcde"));
        let garbage = answering(b"garbage").await;
        assert!(Http::new(&garbage).request(Method::GET, "/p/x", None, None).await.is_err());
    }
}
