//! `--data`, the data folder of the commands that open the store (`serve` and the
//! `researcher` actions), declared once.

use std::path::PathBuf;

// No doc comment: clap takes an Args struct's doc comment as the about text of the command
// it is flattened into.
#[derive(clap::Args)]
pub(super) struct DataDir {
    /// Where the sled database lives.
    #[arg(long, default_value = "stoa-data")]
    pub(super) data: PathBuf,
}
