//! `stoa echo`: the bare WebSocket echo server (optionally durable) that `stoa load
//! --ceiling` compares against; it prints its address first.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use crate::load::echo::{self, DurableLog};

#[derive(clap::Args)]
pub(super) struct EchoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// Echo each frame only once it is on disk in a live journal in this folder (the
    /// durable ceiling).
    #[arg(long)]
    durable: Option<PathBuf>,
}

pub(super) fn run(a: EchoArgs) -> anyhow::Result<ExitCode> {
    crate::load::raise_fd_limit();
    let log = match &a.durable {
        Some(dir) => Some(Arc::new(DurableLog::open(dir).with_context(|| format!("cannot open a live journal in `{}`", dir.display()))?)),
        None => None,
    };
    let addr = a.addr;
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tokio.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        println!("{}echo server on ws://{}", if log.is_some() { "durable " } else { "" }, listener.local_addr()?);
        match log {
            Some(log) => echo::serve_durable(listener, log).await?,
            None => echo::serve(listener).await?,
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
