//! `stoa researcher`: researcher accounts of a shared server — add, quotas, token, list —
//! on the data folder of a stopped server (a running one holds its lock).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::data_dir::DataDir;
use crate::hosting::accounts::{Accounts, QuotaPatch, Quotas};
use crate::{RuntimeConfig, Store};

#[derive(Subcommand)]
pub(super) enum Action {
    /// Create researcher NAME and print their API token (shown this once).
    Add {
        /// Login name: lowercase letters, digits, `-` and `_`, starting with a letter.
        name: String,
        #[command(flatten)]
        data: DataDir,
        /// Read a password for the admin pages from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a researcher's quotas (only those given; 0 for deadline or memory: the game's own).
    Quotas {
        /// The researcher.
        name: String,
        #[command(flatten)]
        data: DataDir,
        /// CPU deadline of one call, ms (lowers the game's own).
        #[arg(long)]
        deadline_ms: Option<u64>,
        /// Memory of one instance, MiB (lowers the game's own).
        #[arg(long)]
        memory_mb: Option<u64>,
        /// Live messages per second across the researcher's sessions.
        #[arg(long)]
        messages_per_second: Option<f64>,
        /// Sessions at once (with a participant not finished).
        #[arg(long)]
        sessions: Option<u32>,
        /// Bytes of uploaded archives kept.
        #[arg(long)]
        stored_bytes: Option<u64>,
    },
    /// Give a researcher a new API token (printed once); the old one stops working.
    Token {
        /// The researcher.
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// List the researchers and their quotas.
    List {
        #[command(flatten)]
        data: DataDir,
    },
}

/// The store and its accounts, or why the data folder cannot be opened.
fn open(data: &Path) -> anyhow::Result<(Store, Accounts)> {
    let store = Store::open(data).with_context(|| format!("cannot open the data folder `{}` (is a server running on it?)", data.display()))?;
    let accounts = Accounts::open(&store)?;
    Ok((store, accounts))
}

pub(super) fn run(action: Action) -> anyhow::Result<ExitCode> {
    match action {
        Action::Add { name, data, password_stdin } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let (store, accounts) = open(&data.data)?;
            let (r, token) = accounts.add(&name, password.as_deref(), Quotas::default())?;
            store.wait_durable()?;
            println!("researcher `{}` added; their API token (shown only now): {token}", r.name);
            println!("they sign in at /admin?token=TOKEN{}", if r.password.is_some() { " or with their name and password" } else { "" });
        }
        Action::Quotas { name, data, deadline_ms, memory_mb, messages_per_second, sessions, stored_bytes } => {
            let (store, accounts) = open(&data.data)?;
            let patch = QuotaPatch { deadline_ms, memory_mb, messages_per_second, sessions, stored_bytes };
            let r = accounts.set_quotas(&name, &patch, &RuntimeConfig::default().max)?;
            store.wait_durable()?;
            println!("{}: {}", r.name, serde_json::to_string(&r.quotas)?);
        }
        Action::Token { name, data } => {
            let (store, accounts) = open(&data.data)?;
            let token = accounts.new_token(&name)?;
            store.wait_durable()?;
            println!("researcher `{name}`'s new API token (shown only now): {token}");
        }
        Action::List { data } => {
            let (_store, accounts) = open(&data.data)?;
            for r in accounts.list()? {
                println!("{}: {}", r.name, serde_json::to_string(&r.quotas)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
