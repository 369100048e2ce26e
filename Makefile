# Stoa — the two commands a newcomer needs:
#   make run    build everything, start the server with a demo session of the auction
#   make test   install what the tests need, build every game from source, run every test
#
# Other targets: build (host + every game), games, bench, check, fuzz, clean.

CARGO       ?= cargo
WASM_TARGET := wasm32-wasip2
# Compiled components are cached here, shared by tests, bots and the server.
export STOA_CACHE_DIR ?= $(CURDIR)/target/stoa-cache

# Rust guests: every directory under example-games/ and tests/fixtures/ with a Cargo.toml.
RUST_GAME_DIRS := $(patsubst %/Cargo.toml,%,$(wildcard example-games/*/Cargo.toml tests/fixtures/*/Cargo.toml))
# A game's crate name and the component path its game.toml names.
crate_of     = $(shell sed -n 's/^name *= *"\(.*\)"/\1/p' $(1)/Cargo.toml | head -n1)
component_of = $(shell sed -n 's/^component *= *"\(.*\)"/\1/p' $(1)/game.toml | head -n1)
GUEST_SOURCES := $(shell find sdk/src sdk/Cargo.toml wit $(addsuffix /src,$(RUST_GAME_DIRS)) $(addsuffix /Cargo.toml,$(RUST_GAME_DIRS)) -type f 2>/dev/null)

.PHONY: all build host games rust-games test bench run check clean setup browser fuzz

all: build

build: host games

host:
	$(CARGO) build --release -p stoa-host

games: rust-games py-games js-games

# The wasm target, installed once per toolchain.
setup:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

rust-games: setup target/.rust-games.stamp

target/.rust-games.stamp: $(GUEST_SOURCES) Cargo.toml Cargo.lock $(addsuffix /game.toml,$(RUST_GAME_DIRS))
	$(CARGO) build --target $(WASM_TARGET) --profile guest $(foreach d,$(RUST_GAME_DIRS),-p $(call crate_of,$(d)))
	@$(foreach d,$(RUST_GAME_DIRS),mkdir -p $(dir $(d)/$(call component_of,$(d))) && \
		cp target/$(WASM_TARGET)/guest/$(subst -,_,$(call crate_of,$(d))).wasm $(d)/$(call component_of,$(d)) && ) true
	@touch $@

# Headless Chromium and its driver for the browser tests (Debian packages).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "installing chromium and chromium-driver"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

include mk/guests-py-js.mk

test: games browser
	$(CARGO) test -p stoa-host --no-fail-fast
	$(CARGO) test -p stoa-sdk $(foreach d,$(filter example-games/%,$(RUST_GAME_DIRS)),-p $(call crate_of,$(d)))
	$(MAKE) --no-print-directory py-sdk-test js-sdk-test

# Per-call costs, the live table (`stoa serve` vs `stoa echo`, driven by `stoa load`), then
# the page-flow table (the public goods game submitted page by page over HTTP), then replay
# speed (`stoa replay`'s calls per second over a Rust and a Python auction session).
bench: games
	$(CARGO) bench -p stoa-host --bench core
	$(CARGO) bench -p stoa-host --bench live
	$(CARGO) bench -p stoa-host --bench pages
	$(CARGO) bench -p stoa-host --bench replay

check: games
	@for d in example-games/*/; do [ -f $$d/game.toml ] && $(CARGO) run -q --release -p stoa-host -- check $$d; done

# cargo-fuzz targets (fuzz/, a workspace of its own, on nightly): each runs FUZZ_SECONDS,
# starting from the seeds in fuzz/seeds/; prints the executions each ran (full output in
# fuzz/fuzz-TARGET.log, a crashing input in fuzz/artifacts/TARGET/).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= client_frame manifest template
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t && cp -n seeds/$$t/* corpus/$$t/ 2>/dev/null; \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
		$(CARGO) +nightly fuzz run -O $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			> fuzz-$$t.log 2>&1; rc=$$?; \
		grep -E '^Done|stat::number_of_executed_units' fuzz-$$t.log; \
		[ $$rc -eq 0 ] || { tail -n 40 fuzz-$$t.log; echo "fuzz target $$t failed: see fuzz/fuzz-$$t.log and fuzz/artifacts/$$t"; exit 1; }; \
	done

run: build
	$(CARGO) run -q --release -p stoa-host -- serve --games example-games --demo auction

clean:
	$(CARGO) clean
	rm -rf example-games/*/target tests/fixtures/*/target fuzz/target
