"""Stoa's Python SDK: write a live game the way an oTree app reads.

A game is a module named ``app`` (``src/app.py`` in the game's folder) that defines
plain functions; the SDK implements the component's exports by calling them::

    def live_method(group, id_in_group, payload):
        if payload["bid"] > group.max_bid:
            group.max_bid = payload["bid"]          # a typed, checked write
            return {0: {"max_bid": group.max_bid}}  # 0 = the whole group
        return {id_in_group: {"rejected": True}}

    def vars_for_template(group, id_in_group):       # optional
        return {"max_bid": group.max_bid}

    def error_message(group, id_in_group, values):   # optional
        return None                                  # or the text to show

    def call_live_method(method, group, page, round_number, case, **kwargs):  # optional
        assert method(1, {"bid": 10}) == {0: {"max_bid": 10}}, "step 1: ..."

# Layout

- ``stoa`` (this file): ``Group``, ``Player`` and the two errors a game can see.
- ``stoa._exports``: the world's four exports as plain Python (JSON in, JSON out, errors
  as text), independent of the generated bindings so it can be tested outside wasm.
- ``stoa._world``: the module componentize-py builds; it binds ``stoa._exports`` to the
  generated ``wit_world`` imports and exports ``WitWorld``.

Fields are read from and written to the host on every access: nothing is cached, so a
read always sees this call's own writes. A ``json`` field's value is a fresh copy:
``group.history.append(x)`` changes the copy only; write it back with
``group.history = group.history + [x]``.
"""

import json

__all__ = ["FieldError", "Group", "LiveError", "Player"]


class FieldError(AttributeError):
    """The host refused a field read or write: an undeclared field, or a value whose type
    does not fit the manifest, or a write outside ``live_method``.

    Subclasses ``AttributeError`` so ``hasattr`` and ``getattr(obj, name, default)`` work.
    """


class LiveError(Exception):
    """A ``method(id_in_group, payload)`` call in ``call_live_method`` was refused: the
    game's ``live_method`` answered with an error, whose text this carries."""


class Group:
    """The calling group: its fields as attributes (``group.max_bid``) or items
    (``group["max_bid"]``), its players, and where the call happens.

    A field whose name is also a name below (``page``, ``player``, ...) or starts with
    ``_`` is reached as an item: ``group["page"]``.
    """

    def __init__(self, ctx, host):
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_host", host)

    @property
    def round_number(self):
        """The 1-based round number."""
        return self._ctx.round_number

    @property
    def page(self):
        """The current page's name, as in game.toml."""
        return self._ctx.page

    @property
    def session(self):
        """The session's code."""
        return self._ctx.session

    @property
    def id_in_subsession(self):
        """The group's number within the round, 1-based (oTree's name for it)."""
        return self._ctx.group_id

    def get_players(self):
        """Every player of the group, by id in group (1, 2, ...)."""
        return [Player(self, i) for i in range(1, self._ctx.players + 1)]

    def get_player_by_id(self, id_in_group):
        """The player with this id in the group.

        Raises ``ValueError`` if the group has no such player.
        """
        if isinstance(id_in_group, bool) or not isinstance(id_in_group, int) or not (
            1 <= id_in_group <= self._ctx.players
        ):
            raise ValueError(
                f"no player {id_in_group!r} in this group: ids are 1..{self._ctx.players}"
            )
        return Player(self, id_in_group)

    player = get_player_by_id

    def __getitem__(self, name):
        return json.loads(_ask(f"group.{name}", self._host.group_get, name))

    def __setitem__(self, name, value):
        where = f"group.{name}"
        _ask(where, self._host.group_set, name, _encode(where, value))

    def __getattr__(self, name):
        # Only called when normal lookup fails: that is, for fields.
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name, value):
        if name.startswith("_") or hasattr(type(self), name):
            raise AttributeError(f"`{name}` is not a field: use group[{name!r}] = ...")
        self[name] = value

    def __repr__(self):
        return f"<Group {self._ctx.group_id} round {self._ctx.round_number}>"


class Player:
    """A player of the group: ``player.bids`` / ``player["bids"]`` are its fields."""

    def __init__(self, group, id_in_group):
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "id_in_group", id_in_group)

    def get_others_in_group(self):
        """The group's other players, by id in group."""
        return [p for p in self.group.get_players() if p.id_in_group != self.id_in_group]

    def __getitem__(self, name):
        where = f"player({self.id_in_group}).{name}"
        return json.loads(_ask(where, self.group._host.player_get, self.id_in_group, name))

    def __setitem__(self, name, value):
        where = f"player({self.id_in_group}).{name}"
        _ask(where, self.group._host.player_set, self.id_in_group, name, _encode(where, value))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name, value):
        if name.startswith("_") or name in ("group", "id_in_group") or hasattr(type(self), name):
            raise AttributeError(f"`{name}` is not a field: use player[{name!r}] = ...")
        self[name] = value

    def __eq__(self, other):
        return isinstance(other, Player) and other.id_in_group == self.id_in_group

    def __hash__(self):
        return self.id_in_group

    def __repr__(self):
        return f"<Player {self.id_in_group}>"


def _ask(where, call, *args):
    """Calls the host; a refusal becomes a FieldError naming the field."""
    try:
        return call(*args)
    except FieldError as e:
        raise FieldError(f"{where}: {e}") from None


def _encode(where, value):
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise FieldError(f"{where}: cannot store {value!r}: {e}") from None
