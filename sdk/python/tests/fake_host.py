"""An in-memory stand-in for Stoa's host, enough to run a Python game's functions under
plain CPython: fields typed by the game's game.toml (group, player with the built-in
`payoff`, participant, session), writes only inside a writing call (live, before-next-page,
after-all-players-arrive; creating-session also the session and every group) and rolled back
when it fails, earlier rounds read-only, the session config from `[config]`, and a
bot-driver that makes real (fake) live calls. One group: positions in the session are ids.

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
        self.num_rounds = self.manifest.get("num_rounds", 1)
        self.config = dict(self.manifest.get("config", {}))
        declared = {
            kind: self.manifest.get(kind, {}).get("fields", {})
            for kind in ("group", "player", "participant", "session")
        }
        declared["player"] = {"payoff": {"type": "float", "initial": 0}, **declared["player"]}
        self.types = {kind: {k: v["type"] for k, v in fields.items()} for kind, fields in declared.items()}
        self.group_types, self.player_types = self.types["group"], self.types["player"]
        self._initial = {kind: {k: v.get("initial") for k, v in fields.items()} for kind, fields in declared.items()}
        self.round = 1
        self.rounds = {}  # earlier rounds: round -> (group, player)
        self.group, self.player = self._fresh()
        self.participant = {i: dict(self._initial["participant"]) for i in range(1, self.players + 1)}
        self.session = dict(self._initial["session"])
        self.writable = False
        self.creating = False
        self.in_bot = False
        self.log = []  # (sender, payload, routed or error)

    def ctx(self, page, group_id=1):
        return SimpleNamespace(
            session="s1", round_number=self.round, page=page, group_id=group_id, players=self.players,
            num_rounds=self.num_rounds, config=json.dumps(self.config),
        )  # fmt: skip

    def next_round(self):
        """Keeps this round's group and players as an earlier round and starts the next."""
        self.rounds[self.round] = copy.deepcopy((self.group, self.player))
        self.round += 1
        created = getattr(self, "created", {}).get(self.round)
        self.group, self.player = copy.deepcopy(created) if created else self._fresh()

    def _fresh(self):
        return dict(self._initial["group"]), {i: dict(self._initial["player"]) for i in range(1, self.players + 1)}

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

    def participant_get(self, id_in_group, name):
        if id_in_group not in self.participant or name not in self.participant[id_in_group]:
            raise FieldError(f"no participant field `{name}` for player {id_in_group}")
        return json.dumps(self.participant[id_in_group][name])

    def participant_set(self, id_in_group, name, value):
        if id_in_group not in self.participant:
            raise FieldError(f"no player {id_in_group}")
        self._write(self.participant[id_in_group], self.types["participant"], name, value)

    def session_get(self, name):
        if name not in self.session:
            raise FieldError(f"no session field `{name}`")
        return json.dumps(self.session[name])

    def session_set(self, name, value):
        if not self.creating:
            raise FieldError("session fields are written only in creating-session")
        self._write(self.session, self.types["session"], name, value)

    def group_get_in_round(self, round_number, name):
        if round_number not in self.rounds:
            raise FieldError(f"round {round_number} is not an earlier round")
        group = self.rounds[round_number][0]
        if name not in group:
            raise FieldError(f"no group field `{name}`")
        return json.dumps(group[name])

    def player_get_in_round(self, round_number, id_in_group, name):
        if round_number not in self.rounds:
            raise FieldError(f"round {round_number} is not an earlier round")
        player = self.rounds[round_number][1].get(id_in_group)
        if player is None or name not in player:
            raise FieldError(f"no player field `{name}` for player {id_in_group}")
        return json.dumps(player[name])

    def round_groups(self):
        return [list(range(1, self.players + 1))] if self.creating else []

    def group_set_in(self, group_id, name, value):
        if not self.creating:
            raise FieldError("group-set-in is only for creating-session")
        if group_id != 1:
            raise FieldError(f"no group {group_id}")
        self._write(self.group, self.group_types, name, value)

    def _write(self, fields, types, name, text):
        if not self.writable:
            raise FieldError("fields are read-only in this call")
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

    def _writing(self, export, *args, creating=False):
        """Runs a writing export like the host: all of its writes or none."""
        saved = copy.deepcopy((self.group, self.player, self.participant, self.session))
        self.writable, self.creating = True, creating
        try:
            return export(self.app, *args)
        except Exception:
            self.group, self.player, self.participant, self.session = saved
            raise
        finally:
            self.writable = self.creating = False

    def create_session(self):
        """creating-session once per round, as the host does at creation; each round starts
        from what it wrote."""
        self.created = {}
        for r in range(1, self.num_rounds + 1):
            self.round = r
            self.group, self.player = self._fresh()
            self._writing(_exports.creating_session, self.ctx("", group_id=0), self, creating=True)
            self.created[r] = copy.deepcopy((self.group, self.player))
        self.round = 1
        self.group, self.player = copy.deepcopy(self.created[1])

    def submit(self, page, id_in_group, values, timeout_happened=False):
        """A page submission after the host's parsing: error-message, then (if none) the
        values stored and before-next-page in one commit. Returns the error text or None.
        A timeout skips error-message, as oTree's does."""
        ctx = self.ctx(page)
        if not timeout_happened:
            error = _exports.error_message(self.app, ctx, self, id_in_group, json.dumps(values))
            if error is not None:
                return error

        def store_and_hook(app, ctx, host, id_in_group, timeout_happened):
            for name, value in values.items():
                host.player_set(id_in_group, name, json.dumps(value))
            _exports.before_next_page(app, ctx, host, id_in_group, timeout_happened)

        self._writing(store_and_hook, ctx, self, id_in_group, timeout_happened)
        return None

    def arrive(self, page):
        """The last player arrived on wait page `page`: after-all-players-arrive."""
        self._writing(_exports.after_all_players_arrive, self.ctx(page), self)

    def is_displayed(self, page, id_in_group):
        return _exports.is_displayed(self.app, self.ctx(page), self, id_in_group)

    def timeout(self, page, id_in_group):
        return _exports.get_timeout_seconds(self.app, self.ctx(page), self, id_in_group)

    def submissions(self, page, id_in_group, case=None):
        subs = _exports.bot_submissions(self.app, self.ctx(page), self, id_in_group, case)
        return [(json.loads(v), must_fail) for v, must_fail in subs]

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
