//! Stoa's integration tests: one binary, so the suite links once. Every test drives real
//! components built from source by `make games` (the Makefile's `test` target builds them
//! first), a real sled database on disk, and — for the server — real sockets.

mod server_support;
mod support;
mod ws;

mod core_auction;
mod core_hostile;
mod core_bots;
mod server_live;
mod crash;
mod server_pages;
mod server_api;
mod browser;
mod example_games;
mod languages;
mod scaffold;
mod shared_hosting;
mod load;
mod hardening;
