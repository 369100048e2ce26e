"""An in-memory stand-in for Stoa's host, enough to run a Python game's functions under
plain CPython: fields typed by the game's game.toml, writes only inside a live call and
rolled back when it fails, and a bot-driver that makes real (fake) live calls.

It follows DESIGN.md's field rules (integer takes JSON integers only, float any number,
null fits every field); the real host is the authority, and `stoa bots` the real test.
"""

import copy
import importlib.util
import json
import tomllib
from pathlib import Path
from types import SimpleNamespace

from stoa import FieldError, LiveError, _exports

TYPES = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "json": lambda v: True,
}


def load_app(game_dir):
    """The game's `app` module, loaded under a name of its own."""
    path = Path(game_dir) / "src" / "app.py"
    spec = importlib.util.spec_from_file_location(f"app_{Path(game_dir).name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeHost:
    def __init__(self, game_dir, app=None):
        with open(Path(game_dir) / "game.toml", "rb") as f:
            self.manifest = tomllib.load(f)
        self.app = app or load_app(game_dir)
        self.players = self.manifest["players_per_group"]
        self.group_types = {k: v["type"] for k, v in self.manifest["group"]["fields"].items()}
        self.player_types = {k: v["type"] for k, v in self.manifest["player"]["fields"].items()}
        self.group = {k: v.get("initial") for k, v in self.manifest["group"]["fields"].items()}
        self.player = {
            i: {k: v.get("initial") for k, v in self.manifest["player"]["fields"].items()}
            for i in range(1, self.players + 1)
        }
        self.writable = False
        self.in_bot = False
        self.log = []  # (sender, payload, routed or error)

    def ctx(self, page):
        return SimpleNamespace(session="s1", round_number=1, page=page, group_id=1, players=self.players)

    # The `fields` interface.
    def group_get(self, name):
        if name not in self.group:
            raise FieldError(f"no group field `{name}`")
        return json.dumps(self.group[name])

    def group_set(self, name, value):
        self._write(self.group, self.group_types, name, value)

    def player_get(self, id_in_group, name):
        if id_in_group not in self.player or name not in self.player[id_in_group]:
            raise FieldError(f"no player field `{name}` for player {id_in_group}")
        return json.dumps(self.player[id_in_group][name])

    def player_set(self, id_in_group, name, value):
        if id_in_group not in self.player:
            raise FieldError(f"no player {id_in_group}")
        self._write(self.player[id_in_group], self.player_types, name, value)

    def _write(self, fields, types, name, text):
        if not self.writable:
            raise FieldError("fields are read-only outside live-method")
        if name not in types:
            raise FieldError(f"no field `{name}`")
        value = json.loads(text)
        if value is not None and not TYPES[types[name]](value):
            raise FieldError(f"`{name}` is {types[name]}, not {text}")
        fields[name] = value

    # The `bot-driver` interface.
    def live_method(self, id_in_group, payload):
        if not self.in_bot:
            raise LiveError("bot-driver is only available in call-live-method")
        return self.live(self._page, id_in_group, payload)

    # What the host does with the world's exports.
    def live(self, page, id_in_group, payload_text):
        """A live call: routed `[(to, json)]`, or raises LiveError with the game's reason."""
        saved = copy.deepcopy((self.group, self.player))
        self.writable = True
        try:
            routed = _exports.live_method(self.app, self.ctx(page), self, id_in_group, payload_text)
        except Exception as e:
            self.group, self.player = saved
            self.log.append((id_in_group, payload_text, _exports.error_text(e)))
            raise LiveError(_exports.error_text(e)) from e
        finally:
            self.writable = False
        self.log.append((id_in_group, payload_text, routed))
        return routed

    def bots(self, page, case=None):
        self._page = page
        self.in_bot = True
        try:
            _exports.call_live_method(self.app, self.ctx(page), self, case)
        finally:
            self.in_bot = False

    def vars(self, page, id_in_group):
        return json.loads(_exports.vars_for_template(self.app, self.ctx(page), self, id_in_group))

    def error_message(self, page, id_in_group, values="{}"):
        return _exports.error_message(self.app, self.ctx(page), self, id_in_group, values)
