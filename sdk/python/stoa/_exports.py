"""The world's exports (0.1's four and 0.2's six hooks) in plain Python: JSON text in, JSON text out, a game's exceptions
turned into the text of the WIT `err`.

`host` is anything with the `fields` and `bot-driver` functions whose refusals raise
`FieldError` (fields) or `LiveError` (bot-driver): `stoa._world` passes the generated
bindings, tests pass a fake.
"""

import json
import sys

from . import Group, Submission, Subsession


def live_method(app, ctx, host, id_in_group, payload):
    """Calls the game's `live_method`: `(player, data)` (oTree) or `(group, id_in_group,
    payload)` (0.1); returns `[(to, json)]`.

    Raises whatever the game raised, or `TypeError`/`ValueError` for a return value that
    is not `{id_in_group: message}`.
    """
    fn = _hook(app, ctx, "live_method")
    if fn is None:
        raise NotImplementedError("this game defines no live_method")
    group = Group(ctx, host)
    data = json.loads(payload)
    if _shape(fn, "live_method", otree=2, seed=3) == "otree":
        routed = fn(group.get_player_by_id(id_in_group), data)
    else:
        routed = fn(group, id_in_group, data)
    return _messages(routed, ctx.players)


def error_message(app, ctx, host, id_in_group, values):
    """Calls `error_message(player, values)` (or 0.1's `(group, id_in_group, values)`) with
    the form's typed values: `None` lets the player go on."""
    fn = _hook(app, ctx, "error_message")
    if fn is None:
        return None
    values = json.loads(values)
    if _shape(fn, "error_message", otree=2, seed=3) == "otree":
        text = fn(_player(ctx, host, id_in_group), values)
    else:
        text = fn(Group(ctx, host), id_in_group, values)
    if text is None or text == "":
        return None
    if isinstance(text, dict):  # oTree's {field: message} form
        return "; ".join(f"{k}: {v}" for k, v in text.items())
    return str(text)


def vars_for_template(app, ctx, host, id_in_group):
    """Calls `vars_for_template(player)` (or 0.1's `(group, id_in_group)`); returns the
    JSON object's text."""
    fn = _hook(app, ctx, "vars_for_template")
    if fn is None:
        values = {}
    elif _shape(fn, "vars_for_template", otree=1, seed=2) == "otree":
        values = fn(_player(ctx, host, id_in_group))
    else:
        values = fn(Group(ctx, host), id_in_group)
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


def creating_session(app, ctx, host):
    """Calls `creating_session(subsession)`, once per round at the session's creation."""
    fn = getattr(app, "creating_session", None)
    if fn is not None:
        fn(Subsession(ctx, host))


def is_displayed(app, ctx, host, id_in_group):
    """Calls `is_displayed(player)`: its truth (oTree's: `None` skips the page); `True`
    without one."""
    fn = _hook(app, ctx, "is_displayed")
    return True if fn is None else bool(fn(_player(ctx, host, id_in_group)))


def before_next_page(app, ctx, host, id_in_group, timeout_happened):
    """Calls `before_next_page(player, timeout_happened)` after a page's values are stored."""
    fn = _hook(app, ctx, "before_next_page")
    if fn is not None:
        fn(_player(ctx, host, id_in_group), timeout_happened)


def after_all_players_arrive(app, ctx, host):
    """Calls `after_all_players_arrive(group)` on a wait page, once per group."""
    fn = _hook(app, ctx, "after_all_players_arrive")
    if fn is not None:
        fn(Group(ctx, host))


def get_timeout_seconds(app, ctx, host, id_in_group):
    """Calls `get_timeout_seconds(player)`: seconds from now, or `None` for the page's."""
    fn = _hook(app, ctx, "get_timeout_seconds")
    if fn is None:
        return None
    seconds = fn(_player(ctx, host, id_in_group))
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (0 <= seconds < float("inf")):
        raise ValueError(f"get_timeout_seconds must return seconds >= 0 or None, not {seconds!r}")
    return float(seconds)


def bot_submissions(app, ctx, host, id_in_group, case):
    """Calls `bot_submissions(player, case)`; returns `[(values json, must_fail)]`.

    Each item is a `Submission` or a dict (a submission to be accepted); a single one may be
    returned bare, and `None` (or no function) is one `{}` submission.
    """
    fn = getattr(app, "bot_submissions", None)
    subs = None if fn is None else fn(_player(ctx, host, id_in_group), case)
    if subs is None:
        subs = [Submission()]
    elif isinstance(subs, (dict, Submission)):
        subs = [subs]
    out = []
    for i, sub in enumerate(subs, 1):
        if isinstance(sub, dict):
            sub = Submission(sub)
        if not isinstance(sub, Submission) or not isinstance(sub.values, dict):
            raise TypeError(f"bot submission {i} must be a dict of form values or a Submission, not {sub!r}")
        out.append((_dumps(sub.values), sub.must_fail))
    return out


def _player(ctx, host, id_in_group):
    return Group(ctx, host).get_player_by_id(id_in_group)


def _hook(app, ctx, name):
    """The game's `name`: a static method of the class named after the page (oTree's page
    classes) if it has one, else the module's function; a string names a module function
    (oTree's `live_method = "live_bid"`)."""
    page = getattr(app, ctx.page, None) if ctx.page else None
    fn = getattr(page, name, None) if isinstance(page, type) else None
    if fn is None:
        fn = getattr(app, name, None)
    if isinstance(fn, str):
        fn = getattr(app, fn)
    return fn


def _shape(fn, name, otree, seed):
    """"otree" or "seed", by how many positional parameters without defaults `fn` takes."""
    n = _positional(fn)
    if n == otree:
        return "otree"
    if n == seed:
        return "seed"
    raise TypeError(
        f"{name} must take {otree} parameters (oTree's shape) or {seed} (the 0.1 shape), "
        f"not {n if n is not None else 'an unknown number'}"
    )


def _positional(fn):
    """Positional parameters without defaults (`self` of a bound method left out)."""
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if code is None:
        code = getattr(getattr(type(fn), "__call__", None), "__code__", None)
        if code is None:
            return None
        return code.co_argcount - 1 - len(type(fn).__call__.__defaults__ or ())
    n = code.co_argcount - len(func.__defaults__ or ())
    return n - 1 if func is not fn else n


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
