"""The module componentize-py builds: `componentize-py ... componentize stoa._world`.

It implements the `game` world's exports (the `WitWorld` class componentize-py looks for)
by delegating to the game's own module, `app`. The import of `app` runs once, at build
time (componentize-py snapshots the initialized interpreter), so a game's module-level
code costs nothing per call.

A game's exception in an export with a WIT `err` (`live_method`, `call_live_method`,
`creating_session`, `before_next_page`, `after_all_players_arrive`) becomes that `err`
with the traceback's last line (the whole traceback goes to stderr, the host's log). In
the others, which have no `err`, it traps.
"""

import app
from componentize_py_types import Err
from wit_world.imports import bot_driver, fields
from wit_world.imports.types import BotSubmission, Message

from . import FieldError, LiveError, _exports


def _refusing(module, name, kind):
    """The import `module.name`, with its WIT `err` raised as `kind`."""

    def call(*args):
        try:
            return getattr(module, name)(*args)
        except Err as e:
            raise kind(e.value) from None

    return staticmethod(call)


class _Host:
    """The generated imports, with each WIT `err` raised as the SDK's own error."""

    group_get = _refusing(fields, "group_get", FieldError)
    group_set = _refusing(fields, "group_set", FieldError)
    player_get = _refusing(fields, "player_get", FieldError)
    player_set = _refusing(fields, "player_set", FieldError)
    participant_get = _refusing(fields, "participant_get", FieldError)
    participant_set = _refusing(fields, "participant_set", FieldError)
    session_get = _refusing(fields, "session_get", FieldError)
    session_set = _refusing(fields, "session_set", FieldError)
    group_get_in_round = _refusing(fields, "group_get_in_round", FieldError)
    player_get_in_round = _refusing(fields, "player_get_in_round", FieldError)
    group_set_in = _refusing(fields, "group_set_in", FieldError)

    @staticmethod
    def round_groups():
        return fields.round_groups()

    @staticmethod
    def live_method(id_in_group, payload):
        try:
            return [(m.to, m.payload) for m in bot_driver.live_method(id_in_group, payload)]
        except Err as e:
            raise LiveError(e.value) from None


def _or_err(call, *args):
    """Runs an export whose WIT result has an `err`: a game's exception becomes it."""
    try:
        return call(app, *args)
    except Exception as e:
        raise Err(_exports.report(e)) from None


class WitWorld:
    """The component's exports."""

    def live_method(self, ctx, id_in_group, payload):
        routed = _or_err(_exports.live_method, ctx, _Host, id_in_group, payload)
        return [Message(to, text) for to, text in routed]

    def error_message(self, ctx, id_in_group, values):
        return _exports.error_message(app, ctx, _Host, id_in_group, values)

    def vars_for_template(self, ctx, id_in_group):
        return _exports.vars_for_template(app, ctx, _Host, id_in_group)

    def call_live_method(self, ctx, case):
        _or_err(_exports.call_live_method, ctx, _Host, case)

    def creating_session(self, ctx):
        _or_err(_exports.creating_session, ctx, _Host)

    def is_displayed(self, ctx, id_in_group):
        return _exports.is_displayed(app, ctx, _Host, id_in_group)

    def before_next_page(self, ctx, id_in_group, timeout_happened):
        _or_err(_exports.before_next_page, ctx, _Host, id_in_group, timeout_happened)

    def after_all_players_arrive(self, ctx):
        _or_err(_exports.after_all_players_arrive, ctx, _Host)

    def get_timeout_seconds(self, ctx, id_in_group):
        return _exports.get_timeout_seconds(app, ctx, _Host, id_in_group)

    def bot_submissions(self, ctx, id_in_group, case):
        subs = _exports.bot_submissions(app, ctx, _Host, id_in_group, case)
        return [BotSubmission(values, must_fail) for values, must_fail in subs]
