"""The auction, in Python: the same game as the Rust example-games/auction.

Three players bid on a live page. A bid above the current maximum becomes the maximum and
is broadcast to the group; any other bid is answered to its bidder alone. A player that
(re)connects asks for the state and gets the maximum and who holds it. The game keeps no
list of past bids: the page gets the group's log (every new_max) replayed when it opens.

Payloads (what `liveSend` may send):

- `{"bid": N}` or a bare `N` (a non-negative integer): a bid. Above `max_bid`, it sets
  `max_bid` and `highest_bidder` and broadcasts `{"type": "new_max", "max_bid": N, "bidder": id}`;
  otherwise the sender alone gets `{"type": "rejected", "max_bid": M, "bid": N}`. Either way it
  counts in the player's `bids`.
- `{"type": "connect"}`: the sender alone gets
  `{"type": "state", "max_bid": M, "highest_bidder": id}` (0: no bid yet).
- Any `"seq"` key of an object payload is echoed in every reply it causes, so load tools can
  match replies to sends. Anything else is refused with the reason.
"""

import json


def live_method(group, id_in_group, payload):
    bid = parse(payload)

    def reply(message):
        if isinstance(payload, dict) and "seq" in payload:
            message["seq"] = payload["seq"]
        return message

    max_bid = group.max_bid or 0
    if bid is None:  # a connect
        return {id_in_group: reply({"type": "state", "max_bid": max_bid, "highest_bidder": group.highest_bidder or 0})}

    player = group.get_player_by_id(id_in_group)
    player.bids = (player.bids or 0) + 1
    if bid <= max_bid:
        return {id_in_group: reply({"type": "rejected", "max_bid": max_bid, "bid": bid})}
    group.max_bid = bid
    group.highest_bidder = id_in_group
    return {0: reply({"type": "new_max", "max_bid": bid, "bidder": id_in_group})}


def vars_for_template(group, id_in_group):
    max_bid = group.max_bid or 0
    highest_bidder = group.highest_bidder or 0
    return {
        "max_bid": max_bid,
        "highest_bidder": highest_bidder,
        "is_winner": max_bid > 0 and highest_bidder == id_in_group,
    }


def parse(payload):
    """The bid a payload makes, or None for a connect; raises ValueError with the reason."""
    if isinstance(payload, (int, float)) and not isinstance(payload, bool):
        return amount(payload)
    if isinstance(payload, dict):
        kind = payload.get("type")
        kind = kind if isinstance(kind, str) else None
        if kind == "connect":
            return None
        if kind not in (None, "bid"):
            raise ValueError(f'unknown message type "{kind}" (expected "connect" or a bid)')
        if "bid" not in payload:
            raise ValueError(f'a bid needs a "bid" key, got {short(payload)}')
        return amount(payload["bid"])
    raise ValueError(f'expected {{"bid": N}}, a bare number N or {{"type": "connect"}}, got {short(payload)}')


def amount(bid):
    if isinstance(bid, bool) or not isinstance(bid, int) or bid < 0:
        raise ValueError(f"bid must be a non-negative integer, got {short(bid)}")
    return bid


def short(value):
    """A value for an error message, as JSON cut to a readable length."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 80 else text[:80] + "..."


def call_live_method(method, group, page, case, **kwargs):
    """The bots' auction: a short scripted auction, checking what each call routes and to
    whom. Starts from whatever the group holds, so bids are relative to the current maximum.
    Case "a" (and no case) bids with {"bid": N}; case "b" with bare numbers, and also checks
    that a negative bid is refused."""
    if page != "Bid":
        return
    if case not in (None, "a", "b"):
        raise ValueError(f'unknown bot case "{case}" (this game has "a" and "b")')
    players = len(group.get_players())
    if players < 3:
        raise ValueError(f"the auction bot needs 3 players, the group has {players}")

    bare = case == "b"
    base = group.max_bid or 0
    leader = group.highest_bidder or 0

    def bid(n):
        return n if bare else {"bid": n}

    check(
        "player 1 connects",
        method(1, {"type": "connect"}),
        {1: {"type": "state", "max_bid": base, "highest_bidder": leader}},
    )
    check(
        "player 1 bids base+10",
        method(1, bid(base + 10)),
        {0: {"type": "new_max", "max_bid": base + 10, "bidder": 1}},
    )
    check(
        "player 2 bids base+5",
        method(2, bid(base + 5)),
        {2: {"type": "rejected", "max_bid": base + 10, "bid": base + 5}},
    )
    # A seq must come back in the reply; case "b" uses a number, case "a" a string.
    seq = 4 if bare else "bot-4"
    check(
        "player 3 bids base+20 with a seq",
        method(3, {"bid": base + 20, "seq": seq}),
        {0: {"type": "new_max", "max_bid": base + 20, "bidder": 3, "seq": seq}},
    )
    check(
        "player 1 reconnects",
        method(1, {"type": "connect"}),
        {1: {"type": "state", "max_bid": base + 20, "highest_bidder": 3}},
    )
    # The bot's own instance sees every committed write.
    check(
        "fields after the auction",
        {"highest_bidder": group.highest_bidder, "player 2 bid": (group.player(2).bids or 0) >= 1},
        {"highest_bidder": 3, "player 2 bid": True},
    )


def check(step, got, want):
    """Fails the bot run, naming the step, unless `got == want`."""
    if got != want:
        raise AssertionError(f"bot step `{step}`: expected {want}, got {got}")
