//! Stoa's integration tests: one binary, so the suite links once. Every test drives real
//! components built from source by `make games` (the Makefile's `test` target builds them
//! first), a real sled database on disk, and — for the server — real sockets.

mod server_support;
mod support;
mod ws;

mod browser;
mod core_auction;
mod core_bots;
mod core_hostile;
mod crash;
mod example_games;
mod grouping;
mod hardening;
mod lab;
mod languages;
mod live_wait;
mod load;
mod replay;
mod replay_catches;
mod rooms;
mod sandbox;
mod scaffold;
mod server_api;
mod server_live;
mod server_pages;
mod shared_hosting;
mod study;
mod study_fields;
mod worlds;
