"""The module componentize-py builds: `componentize-py ... componentize stoa._world`.

It implements the `game` world's exports (the `WitWorld` class componentize-py looks for)
by delegating to the game's own module, `app`. The import of `app` runs once, at build
time (componentize-py snapshots the initialized interpreter), so a game's module-level
code costs nothing per call.

A game's exception in `live_method` or `call_live_method` becomes the WIT `err` with the
traceback's last line (the whole traceback goes to stderr, the host's log). In
`error_message` and `vars_for_template`, which have no `err`, it traps.
"""

import app
from componentize_py_types import Err
from wit_world.imports import bot_driver, fields
from wit_world.imports.types import Message

from . import FieldError, LiveError, _exports


class _Host:
    """The generated imports, with each WIT `err` raised as the SDK's own error."""

    @staticmethod
    def group_get(name):
        try:
            return fields.group_get(name)
        except Err as e:
            raise FieldError(e.value) from None

    @staticmethod
    def group_set(name, value):
        try:
            fields.group_set(name, value)
        except Err as e:
            raise FieldError(e.value) from None

    @staticmethod
    def player_get(id_in_group, name):
        try:
            return fields.player_get(id_in_group, name)
        except Err as e:
            raise FieldError(e.value) from None

    @staticmethod
    def player_set(id_in_group, name, value):
        try:
            fields.player_set(id_in_group, name, value)
        except Err as e:
            raise FieldError(e.value) from None

    @staticmethod
    def live_method(id_in_group, payload):
        try:
            return [(m.to, m.payload) for m in bot_driver.live_method(id_in_group, payload)]
        except Err as e:
            raise LiveError(e.value) from None


class WitWorld:
    """The component's exports."""

    def live_method(self, ctx, id_in_group, payload):
        try:
            routed = _exports.live_method(app, ctx, _Host, id_in_group, payload)
        except Exception as e:
            raise Err(_exports.report(e)) from None
        return [Message(to, text) for to, text in routed]

    def error_message(self, ctx, id_in_group, values):
        return _exports.error_message(app, ctx, _Host, id_in_group, values)

    def vars_for_template(self, ctx, id_in_group):
        return _exports.vars_for_template(app, ctx, _Host, id_in_group)

    def call_live_method(self, ctx, case):
        try:
            _exports.call_live_method(app, ctx, _Host, case)
        except Exception as e:
            raise Err(_exports.report(e)) from None
