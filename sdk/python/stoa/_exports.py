"""The world's exports in plain Python: JSON text in, JSON text out, a game's exceptions
turned into the text of the WIT `err`.

`host` is anything with the `fields` and `bot-driver` functions whose refusals raise
`FieldError` (fields) or `LiveError` (bot-driver): `stoa._world` passes the generated
bindings, tests pass a fake.
"""

import json
import sys

from . import Group


def live_method(app, ctx, host, id_in_group, payload):
    """Calls `app.live_method(group, id_in_group, payload)`; returns `[(to, json)]`.

    Raises whatever the game raised, or `TypeError`/`ValueError` for a return value that
    is not `{id_in_group: message}`.
    """
    fn = getattr(app, "live_method", None)
    if fn is None:
        raise NotImplementedError("this game defines no live_method")
    routed = fn(Group(ctx, host), id_in_group, json.loads(payload))
    return _messages(routed, ctx.players)


def error_message(app, ctx, host, id_in_group, values):
    """Calls `app.error_message(group, id_in_group, values)`: `None` lets the player go on."""
    fn = getattr(app, "error_message", None)
    if fn is None:
        return None
    text = fn(Group(ctx, host), id_in_group, json.loads(values))
    if text is None or text == "":
        return None
    if isinstance(text, dict):  # oTree's {field: message} form
        return "; ".join(f"{k}: {v}" for k, v in text.items())
    return str(text)


def vars_for_template(app, ctx, host, id_in_group):
    """Calls `app.vars_for_template(group, id_in_group)`; returns the JSON object's text."""
    fn = getattr(app, "vars_for_template", None)
    values = {} if fn is None else fn(Group(ctx, host), id_in_group)
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise TypeError(f"vars_for_template must return a dict, not {type(values).__name__}")
    return _dumps(values)


def call_live_method(app, ctx, host, case):
    """Calls `app.call_live_method(method, group=, page=, round_number=, case=)`.

    `method(id_in_group, payload)` is a real live call; it returns what was routed as
    `{to: message}` and raises `LiveError` if the game answered with an error.
    """
    fn = getattr(app, "call_live_method", None)
    if fn is None:
        return

    def method(id_in_group, payload):
        routed = {}
        for to, text in host.live_method(id_in_group, _dumps(payload)):
            if to in routed:
                raise ValueError(f"two messages routed to {to} by one call")
            routed[to] = json.loads(text)
        return routed

    fn(
        method,
        group=Group(ctx, host),
        page=ctx.page,
        round_number=ctx.round_number,
        case=case,
    )


def error_text(exc):
    """The last line of the exception's traceback, as Python would print it."""
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = f"{kind.__module__}.{name}"
    try:
        text = str(exc)
    except Exception:
        text = "<exception str() failed>"
    return f"{name}: {text}" if text else name


def report(exc):
    """Prints a short traceback to stderr (the host's log) and returns the `err` text.

    Walks the traceback by hand: the `traceback` module would load `linecache` and more
    into every call that fails.
    """
    lines = ["Traceback (most recent call last):"]
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        lines.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}')
        tb = tb.tb_next
    text = error_text(exc)
    lines.append(text)
    print("\n".join(lines), file=sys.stderr)
    return text


def _messages(routed, players):
    if routed is None:
        return []
    if not isinstance(routed, dict):
        raise TypeError(
            "live_method must return {id_in_group: message} (0 = the whole group) or None, "
            f"not {type(routed).__name__}"
        )
    out = []
    for to, payload in routed.items():
        if isinstance(to, bool) or not isinstance(to, int) or not (0 <= to <= players):
            raise ValueError(
                f"message addressed to {to!r}: ids in this group are 1..{players}, "
                "or 0 for the whole group"
            )
        out.append((to, _dumps(payload)))
    return out


def _dumps(value):
    return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
