"""Stoa's Python SDK: write a game the way an oTree 5 app reads.

A game is a module named ``app`` (``src/app.py`` in the game's folder) that defines plain
functions; the SDK implements the component's exports by calling them. oTree 5's shape::

    def live_method(player, data):
        group = player.group
        if data["bid"] > group.max_bid:
            group.max_bid = data["bid"]                # a typed, checked write
            return {0: {"max_bid": group.max_bid}}     # 0 = the whole group
        return {player.id_in_group: {"rejected": True}}

    def creating_session(subsession): ...             # every hook is optional
    def is_displayed(player): return True
    def vars_for_template(player): return {"max_bid": player.group.max_bid}
    def error_message(player, values): return None    # or the text to show
    def before_next_page(player, timeout_happened): ...
    def after_all_players_arrive(group): ...
    def get_timeout_seconds(player): return None
    def bot_submissions(player, case): return [{"contribution": 10}]

A hook may also be a static method of a class named after the page (``class Contribute:``
with ``before_next_page``), as oTree's page classes hold them; that one wins on its page.
The seed's 0.1 shape keeps working: ``live_method(group, id_in_group, payload)``,
``vars_for_template(group, id_in_group)``, ``error_message(group, id_in_group, values)``.
The shape is told by the signature: the number of positional parameters without defaults
(``live_method`` 2 = oTree, 3 = 0.1; ``vars_for_template`` 1 / 2; ``error_message`` 2 / 3).

# Layout

- ``stoa`` (this file): ``Session``, ``Subsession``, ``Group``, ``Player``, ``Participant``,
  earlier rounds' read-only views, ``Submission``, and the two errors a game can see.
- ``stoa._exports``: the world's exports as plain Python (JSON in, JSON out, errors as
  text), independent of the generated bindings so it can be tested outside wasm.
- ``stoa._world``: the module componentize-py builds; it binds ``stoa._exports`` to the
  generated ``wit_world`` imports and exports ``WitWorld``.

Fields are read from and written to the host on every access: nothing is cached, so a
read always sees this call's own writes. A ``json`` field's value is a fresh copy:
``group.history.append(x)`` changes the copy only; write it back with
``group.history = group.history + [x]``.
"""

import json

__all__ = [
    "FieldError",
    "Group",
    "LiveError",
    "Participant",
    "Player",
    "Session",
    "Submission",
    "SubmissionMustFail",
    "Subsession",
]


class FieldError(AttributeError):
    """The host refused a field read or write: an undeclared field, or a value whose type
    does not fit the manifest, or a write where the call may not write.

    Subclasses ``AttributeError`` so ``hasattr`` and ``getattr(obj, name, default)`` work.
    """


class LiveError(Exception):
    """A ``method(id_in_group, payload)`` call in ``call_live_method`` was refused: the
    game's ``live_method`` answered with an error, whose text this carries."""


class Submission:
    """One form submission a bot makes on a page (what ``bot_submissions`` returns a list
    of): ``values`` is a dict of the page's ``form_fields``; ``must_fail`` says the host or
    ``error_message`` must refuse it. A plain dict in the list is ``Submission(dict)``."""

    def __init__(self, values=None, must_fail=False):
        self.values = {} if values is None else values
        self.must_fail = bool(must_fail)

    def __eq__(self, other):
        return isinstance(other, Submission) and (other.values, other.must_fail) == (self.values, self.must_fail)

    def __repr__(self):
        return f"Submission({self.values!r}, must_fail={self.must_fail})"


def SubmissionMustFail(values):  # noqa: N802 (oTree's name)
    """A submission that must be refused, as oTree's ``SubmissionMustFail``."""
    return Submission(values, must_fail=True)


class _Fields:
    """Fields as attributes (``x.name``) and items (``x["name"]``), read from and written to
    the host on every access. A name that is also an attribute of the class, or starts with
    ``_``, is reached as an item only.

    Subclasses define ``_kind`` (for messages), ``_where(name)``, ``_read(name)`` (JSON text)
    and ``_write(name, text)``; either may raise ``FieldError``.
    """

    _kind = "fields"
    _attrs = ()  # instance attributes that are not fields

    def __getitem__(self, name):
        return json.loads(_ask(self._where(name), self._read, name))

    def __setitem__(self, name, value):
        where = self._where(name)
        _ask(where, self._write, name, _encode(where, value))

    def __getattr__(self, name):
        # Only called when normal lookup fails: that is, for fields.
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name, value):
        if name.startswith("_") or name in self._attrs or hasattr(type(self), name):
            raise AttributeError(f"`{name}` is not a field: use {self._kind}[{name!r}] = ...")
        self[name] = value


class _ReadOnly(_Fields):
    """A group or player (`of`) in an earlier round: its fields, read-only."""

    def __init__(self, of, round_number):
        object.__setattr__(self, "_of", of)
        object.__setattr__(self, "_round", round_number)

    @property
    def round_number(self):
        """The earlier round's number."""
        return self._round

    def _write(self, name, text):
        raise FieldError("earlier rounds are read-only")


class Session(_Fields):
    """The session: its ``config`` (the treatment: ``[config]`` of game.toml with the chosen
    ``[[session_config]]``'s overrides, a dict), its ``code``, ``num_rounds``, and its
    ``[session.fields]`` as attributes (writable only in ``creating_session``).

    ``str(session)`` and ``session == "code"`` are its code, as ``group.session`` was in 0.1.
    """

    _kind = "session"

    def __init__(self, ctx, host):
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "_config", None)

    @property
    def code(self):
        """The session's code."""
        return self._ctx.session

    @property
    def config(self):
        """The session's config, a dict (parsed once per call)."""
        if self._config is None:
            object.__setattr__(self, "_config", json.loads(self._ctx.config))
        return self._config

    @property
    def num_rounds(self):
        """How many rounds the game has."""
        return self._ctx.num_rounds

    def _where(self, name):
        return f"session.{name}"

    def _read(self, name):
        return self._host.session_get(name)

    def _write(self, name, text):
        self._host.session_set(name, text)

    def __str__(self):
        return self._ctx.session

    def __eq__(self, other):
        if isinstance(other, Session):
            return other._ctx.session == self._ctx.session
        return isinstance(other, str) and other == self._ctx.session

    def __hash__(self):
        return hash(self._ctx.session)

    def __repr__(self):
        return f"<Session {self._ctx.session}>"


class Group(_Fields):
    """The calling group: its fields as attributes (``group.max_bid``) or items
    (``group["max_bid"]``), its players, earlier rounds, and where the call happens.

    A field whose name is also a name below (``page``, ``player``, ...) or starts with
    ``_`` is reached as an item: ``group["page"]``.
    """

    _kind = "group"

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
        """The session (its ``config``, fields; its ``str()`` is the code)."""
        return Session(self._ctx, self._host)

    @property
    def id_in_subsession(self):
        """The group's number within the round, 1-based (oTree's name for it)."""
        return self._ctx.group_id

    def get_players(self):
        """Every player of the group, by id in group (1, 2, ...)."""
        return [self._player_at(i) for i in range(1, self._size() + 1)]

    def get_player_by_id(self, id_in_group):
        """The player with this id in the group.

        Raises ``ValueError`` if the group has no such player.
        """
        if isinstance(id_in_group, bool) or not isinstance(id_in_group, int) or not (
            1 <= id_in_group <= self._size()
        ):
            raise ValueError(f"no player {id_in_group!r} in this group: ids are 1..{self._size()}")
        return self._player_at(id_in_group)

    def _size(self):
        return self._ctx.players

    def _player_at(self, id_in_group):
        return Player(self, id_in_group)

    player = get_player_by_id

    def in_round(self, round_number):
        """This group (the same id) in round ``round_number``: itself for this round, a
        read-only view for an earlier one. Raises ``ValueError`` for a later round."""
        if _round(self._ctx, round_number) == self._ctx.round_number:
            return self
        return GroupInRound(self, round_number)

    def in_previous_rounds(self):
        """This group in rounds 1 .. this one - 1, read-only."""
        return [GroupInRound(self, r) for r in range(1, self._ctx.round_number)]

    def in_all_rounds(self):
        """``in_previous_rounds()`` and this group."""
        return [*self.in_previous_rounds(), self]

    def _where(self, name):
        return f"group.{name}"

    def _read(self, name):
        return self._host.group_get(name)

    def _write(self, name, text):
        self._host.group_set(name, text)

    def __repr__(self):
        return f"<Group {self._ctx.group_id} round {self._ctx.round_number}>"


class Player(_Fields):
    """A player of the group: ``player.bids`` / ``player["bids"]`` are its fields (with the
    built-in ``payoff``); ``player.participant``, ``player.session``, ``player.in_round(n)``."""

    _kind = "player"
    _attrs = ("group", "id_in_group")

    def __init__(self, group, id_in_group, position=None):
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "id_in_group", id_in_group)
        # The id the host addresses the player by: its id in the group, except in
        # creating_session (its position in the session).
        object.__setattr__(self, "_id", id_in_group if position is None else position)

    @property
    def round_number(self):
        """The 1-based round number."""
        return self.group.round_number

    @property
    def session(self):
        """The session (``player.session.config`` is the treatment)."""
        return self.group.session

    @property
    def participant(self):
        """The participant: its ``[participant.fields]``, kept across rounds."""
        return Participant(self)

    def get_others_in_group(self):
        """The group's other players, by id in group."""
        return [p for p in self.group.get_players() if p.id_in_group != self.id_in_group]

    def in_round(self, round_number):
        """The player this participant was in round ``round_number``: itself for this
        round, a read-only view for an earlier one. Raises ``ValueError`` for a later one."""
        if _round(self.group._ctx, round_number) == self.round_number:
            return self
        return PlayerInRound(self, round_number)

    def in_previous_rounds(self):
        """This participant's players in rounds 1 .. this one - 1, read-only."""
        return [PlayerInRound(self, r) for r in range(1, self.round_number)]

    def in_all_rounds(self):
        """``in_previous_rounds()`` and this player."""
        return [*self.in_previous_rounds(), self]

    def _where(self, name):
        return f"player({self.id_in_group}).{name}"

    def _read(self, name):
        return self.group._host.player_get(self._id, name)

    def _write(self, name, text):
        self.group._host.player_set(self._id, name, text)

    def __eq__(self, other):
        return isinstance(other, Player) and other._id == self._id

    def __hash__(self):
        return self._id

    def __repr__(self):
        return f"<Player {self.id_in_group}>"


class Participant(_Fields):
    """A player's participant: its ``[participant.fields]`` as attributes (kept across
    rounds), and ``payoff``, the sum of its players' ``payoff`` over the rounds so far."""

    _kind = "participant"

    def __init__(self, player):
        object.__setattr__(self, "_player", player)

    @property
    def payoff(self):
        """Points so far: this round's ``payoff`` plus every earlier round's (the host's
        payments page adds ``participation_fee`` and converts to money)."""
        p = self._player
        return sum((q.payoff or 0) for q in p.in_previous_rounds()) + (p.payoff or 0)

    def _where(self, name):
        return f"player({self._player.id_in_group}).participant.{name}"

    def _read(self, name):
        return self._player.group._host.participant_get(self._player._id, name)

    def _write(self, name, text):
        self._player.group._host.participant_set(self._player._id, name, text)

    def __repr__(self):
        return f"<Participant of player {self._player.id_in_group}>"


class GroupInRound(_ReadOnly):
    """A group in an earlier round: its fields, read-only."""

    _kind = "group"

    def get_players(self):
        """The players of this group's participants in that round, read-only (with
        regrouping, where each of them sat then, which may be other groups)."""
        return [p.in_round(self._round) for p in self._of.get_players()]

    def _where(self, name):
        return f"group.in_round({self._round}).{name}"

    def _read(self, name):
        return self._of._host.group_get_in_round(self._round, name)

    def __repr__(self):
        return f"<Group {self._of.id_in_subsession} round {self._round}>"


class PlayerInRound(_ReadOnly):
    """The player a participant was in an earlier round: its fields, read-only."""

    _kind = "player"

    @property
    def participant(self):
        return self._of.participant

    def _where(self, name):
        return f"player({self._of.id_in_group}).in_round({self._round}).{name}"

    def _read(self, name):
        return self._of.group._host.player_get_in_round(self._round, self._of._id, name)

    def __repr__(self):
        return f"<Player {self._of.id_in_group} round {self._round}>"


class Subsession:
    """The round, in ``creating_session(subsession)``: its groups and players (every
    participant of the session), the session, and the round number."""

    def __init__(self, ctx, host):
        self._ctx = ctx
        self._host = host

    @property
    def round_number(self):
        """The 1-based round number being created."""
        return self._ctx.round_number

    @property
    def session(self):
        """The session (its fields are writable here)."""
        return Session(self._ctx, self._host)

    def get_groups(self):
        """The round's groups, in id order (group 1 first)."""
        return [_NewGroup(self, g, positions) for g, positions in enumerate(self._host.round_groups(), 1)]

    def get_players(self):
        """Every player of the round, by position in the session (1, 2, ...)."""
        players = []
        for group in self.get_groups():
            players.extend(group.get_players())
        players.sort(key=lambda p: p._id)
        return players

    def __repr__(self):
        return f"<Subsession round {self._ctx.round_number}>"


class _NewGroup(Group):
    """A group in ``creating_session``: its fields are written through ``group-set-in``
    (reads are refused: it has none yet but its manifest's initial values)."""

    def __init__(self, subsession, group_id, positions):
        super().__init__(subsession._ctx, subsession._host)
        object.__setattr__(self, "_group_id", group_id)
        object.__setattr__(self, "_positions", list(positions))

    @property
    def id_in_subsession(self):
        return self._group_id

    def _size(self):
        return len(self._positions)

    def _player_at(self, id_in_group):
        return Player(self, id_in_group, position=self._positions[id_in_group - 1])

    def _where(self, name):
        return f"group({self._group_id}).{name}"

    def _read(self, name):
        raise FieldError("in creating_session a group's fields can be written, not read")

    def _write(self, name, text):
        self._host.group_set_in(self._group_id, name, text)

    def __repr__(self):
        return f"<Group {self._group_id} round {self._ctx.round_number} (creating)>"


def _round(ctx, round_number):
    if isinstance(round_number, bool) or not isinstance(round_number, int) or not (
        1 <= round_number <= ctx.round_number
    ):
        raise ValueError(
            f"round {round_number!r} is not this round or an earlier one: rounds are 1..{ctx.round_number} here"
        )
    return round_number


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
