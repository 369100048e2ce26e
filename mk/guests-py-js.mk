# Python and JavaScript games: included by the main Makefile (run make from the repository root).
#
#   make py-games        every Python game's and Python test fixture's component (sets up .venv first)
#   make js-games        every JavaScript game's and JavaScript test fixture's component (runs `npm ci` in sdk/js first)
#   make py-sdk-test     the Python SDK and games' unit tests, under plain CPython
#   make js-sdk-test     the JavaScript SDK and games' unit tests, under Node
#   make py-js-bots      `stoa bots` on every Python and JavaScript game
#   make py-js-test      all three of the above
#   make py-js-clean     removes the built components (not .venv or node_modules)
#
# A game named NAME lives in example-games/NAME and builds to example-games/NAME/target/NAME.wasm
# (the `component` of its game.toml); a Python test fixture likewise in tests/fixtures/NAME. A component is rebuilt only when its game's sources or
# manifest, the SDK or the WIT change; the toolchains are pinned (componentize-py by version here,
# componentize-js by sdk/js/package-lock.json) and installed once, behind stamp files.

PYTHON ?= python3
NODE ?= node
NPM ?= npm
# Where the project-local virtual environment goes (gitignored).
STOA_VENV ?= .venv
COMPONENTIZE_PY_VERSION ?= 0.25.1
PY_GAMES ?= auction-python bargaining-python public-goods-python
# Hostile Python test games (tests/fixtures/NAME, each with a README "Expectations").
PY_FIXTURES ?= raiser-python looper-python study-fields-python chance-python
JS_GAMES ?= auction-js survey-js
# JavaScript test games (tests/fixtures/NAME, each with a README "Expectations").
JS_FIXTURES ?= chance-js
# How the bots target runs the stoa command.
STOA ?= cargo run -q -p stoa-host --

# Internal names carry PYJS_/PY_/JS_ so they cannot clash with the including Makefile's.
PYJS_GAMES_DIR := example-games
PYJS_FIXTURES_DIR := tests/fixtures
PYJS_WIT_FILES := $(wildcard wit/*.wit wit/*/*.wit)
PY_SDK_FILES := sdk/python/build.py $(wildcard sdk/python/stoa/*.py)
JS_SDK_FILES := sdk/js/build.mjs sdk/js/stoa.js sdk/js/world.js
PY_STAMP := $(STOA_VENV)/.componentize-py-$(COMPONENTIZE_PY_VERSION)
JS_STAMP := sdk/js/node_modules/.npm-ci-stamp

pyjs_component = $(PYJS_GAMES_DIR)/$(1)/target/$(1).wasm
PY_COMPONENTS := $(foreach g,$(PY_GAMES),$(call pyjs_component,$(g)))
PY_FIXTURE_COMPONENTS := $(foreach g,$(PY_FIXTURES),$(PYJS_FIXTURES_DIR)/$(g)/target/$(g).wasm)
JS_COMPONENTS := $(foreach g,$(JS_GAMES),$(call pyjs_component,$(g)))
JS_FIXTURE_COMPONENTS := $(foreach g,$(JS_FIXTURES),$(PYJS_FIXTURES_DIR)/$(g)/target/$(g).wasm)

.PHONY: py-games js-games py-sdk-test js-sdk-test py-js-bots py-js-test py-js-clean

py-games: $(PY_COMPONENTS) $(PY_FIXTURE_COMPONENTS)
js-games: $(JS_COMPONENTS) $(JS_FIXTURE_COMPONENTS)

# The virtual environment, and componentize-py pinned in it. The stamp names the version, so
# changing COMPONENTIZE_PY_VERSION reinstalls.
$(PY_STAMP):
	$(PYTHON) -m venv $(STOA_VENV)
	$(STOA_VENV)/bin/python -m pip install --quiet componentize-py==$(COMPONENTIZE_PY_VERSION)
	touch $@

# componentize-js and its dependencies, exactly as the committed lock file says.
$(JS_STAMP): sdk/js/package.json sdk/js/package-lock.json
	cd sdk/js && $(NPM) ci --no-audit --no-fund
	touch $@

# One rule per game: its component depends on the game's sources and manifest, the SDK and the WIT.
# py_game_rule and js_game_rule take the game's folder ($(1)) and name ($(2)).
define py_game_rule
$(1)/target/$(2).wasm: $(1)/game.toml $(wildcard $(1)/src/*.py) $(PY_SDK_FILES) $(PYJS_WIT_FILES) $(PY_STAMP)
	$(STOA_VENV)/bin/python sdk/python/build.py $(1)
endef
define js_game_rule
$(1)/target/$(2).wasm: $(1)/game.toml $(wildcard $(1)/src/*.js) $(JS_SDK_FILES) $(PYJS_WIT_FILES) $(JS_STAMP)
	$(NODE) sdk/js/build.mjs $(1)
endef
$(foreach g,$(PY_GAMES),$(eval $(call py_game_rule,$(PYJS_GAMES_DIR)/$(g),$(g))))
$(foreach g,$(PY_FIXTURES),$(eval $(call py_game_rule,$(PYJS_FIXTURES_DIR)/$(g),$(g))))
$(foreach g,$(JS_GAMES),$(eval $(call js_game_rule,$(PYJS_GAMES_DIR)/$(g),$(g))))
$(foreach g,$(JS_FIXTURES),$(eval $(call js_game_rule,$(PYJS_FIXTURES_DIR)/$(g),$(g))))

py-sdk-test:
	$(PYTHON) -m unittest discover -s sdk/python/tests

js-sdk-test:
	$(NODE) --test sdk/js/test/

py-js-bots: $(PY_COMPONENTS) $(JS_COMPONENTS)
	@failed=""; for g in $(PY_GAMES) $(JS_GAMES); do $(STOA) bots $(PYJS_GAMES_DIR)/$$g || failed="$$failed $$g"; done; \
	if [ -n "$$failed" ]; then echo "bots failed:$$failed"; exit 1; fi

py-js-test: py-sdk-test js-sdk-test py-js-bots

py-js-clean:
	rm -rf $(foreach g,$(PY_GAMES) $(JS_GAMES),$(PYJS_GAMES_DIR)/$(g)/target) $(foreach g,$(PY_FIXTURES) $(JS_FIXTURES),$(PYJS_FIXTURES_DIR)/$(g)/target)
