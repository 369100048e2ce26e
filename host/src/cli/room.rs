//! `stoa room`: rooms — add, list, close — on the data folder of a stopped server (a running
//! one holds its lock; use the API or the admin pages then).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use super::data_dir::DataDir;
use crate::hosting::accounts::Accounts;
use crate::store::rooms::{labels_from_lines, new_room};
use crate::store::{Rooms, Store};

#[derive(Subcommand)]
pub(super) enum Action {
    /// Create room NAME, whose link is /room/NAME.
    Add {
        /// 1 to 64 letters, digits, `_` or `-`, starting with a letter or digit.
        name: String,
        #[command(flatten)]
        data: DataDir,
        /// What participants and the admin pages show (default: the name).
        #[arg(long)]
        display_name: Option<String>,
        /// A file of participant labels, one per line: only those may join.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// The researcher the room belongs to (default: the operator).
        #[arg(long)]
        researcher: Option<String>,
    },
    /// List the rooms: name, owner, labels, open session.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Close the room's session: those in it go on, new arrivals wait for the next.
    Close {
        /// The room.
        name: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// The store and its rooms, or why the data folder cannot be opened.
fn open(data: &std::path::Path) -> anyhow::Result<(Store, Rooms)> {
    let store = Store::open(data).with_context(|| format!("cannot open the data folder `{}` (is a server running on it?)", data.display()))?;
    let rooms = Rooms::open(&store)?;
    Ok((store, rooms))
}

pub(super) fn run(action: Action) -> anyhow::Result<ExitCode> {
    match action {
        Action::Add { name, data, display_name, labels, researcher } => {
            let labels = match labels {
                Some(file) => {
                    labels_from_lines(&std::fs::read_to_string(&file).with_context(|| format!("cannot read the labels file `{}`", file.display()))?)
                }
                None => Vec::new(),
            };
            let (store, rooms) = open(&data.data)?;
            if let Some(r) = &researcher {
                Accounts::open(&store)?.get(r)?.with_context(|| format!("no researcher `{r}`"))?;
            }
            let room = new_room(&name, display_name.as_deref(), labels, researcher)?;
            rooms.add(&room)?;
            store.wait_durable()?;
            let admits = if room.labels.is_empty() { "anyone with the link".to_string() } else { format!("{} labels", room.labels.len()) };
            println!("room `{}` added ({admits}); its link: /room/{}", room.name, room.name);
        }
        Action::List { data } => {
            let (_store, rooms) = open(&data.data)?;
            for r in rooms.list()? {
                let owner = r.owner.as_deref().unwrap_or("operator");
                let session = r.session.as_deref().unwrap_or("none");
                println!("{}: \"{}\", owner {owner}, {} labels, session {session}", r.name, r.display_name, r.labels.len());
            }
        }
        Action::Close { name, data } => {
            let (store, rooms) = open(&data.data)?;
            let closed = rooms.get(&name)?.and_then(|r| r.session);
            rooms.close_session(&name)?;
            store.wait_durable()?;
            println!("room `{name}`: {}", closed.map_or("no session was open".to_string(), |s| format!("session `{s}` closed")));
        }
    }
    Ok(ExitCode::SUCCESS)
}
