"""An ascending auction: each bid above the group's highest becomes the new highest and is
announced to everyone; a lower bid is turned back to its bidder alone.

Messages (the same as the Rust example-games/auction):

- `{"bid": N}` or a bare `N`: a bid. Above `max_bid`: everyone gets
  `{"type": "new_max", "max_bid": N, "bidder": id}`. Otherwise the bidder gets
  `{"type": "rejected", "max_bid": M, "bid": N}`. Either way the player's `bids` goes up.
- `{"type": "connect"}`: the sender gets `{"type": "state", "max_bid": M, "history": [...]}`.
- A `"seq"` key in an object payload is echoed in every reply it causes.
"""


def live_method(group, id_in_group, payload):
    def reply(message):
        if isinstance(payload, dict) and "seq" in payload:
            message["seq"] = payload["seq"]
        return message

    if isinstance(payload, dict) and payload.get("type") == "connect":
        return {id_in_group: reply({"type": "state", "max_bid": group.max_bid, "history": group.history})}

    bid = payload.get("bid") if isinstance(payload, dict) else payload
    if isinstance(bid, bool) or not isinstance(bid, int):
        raise ValueError(f'expected {{"bid": N}}, a whole number N, or {{"type": "connect"}}; got {payload!r}')

    player = group.get_player_by_id(id_in_group)
    player.bids += 1
    if bid <= group.max_bid:
        return {id_in_group: reply({"type": "rejected", "max_bid": group.max_bid, "bid": bid})}
    group.max_bid = bid
    group.highest_bidder = id_in_group
    group.history = group.history + [{"bidder": id_in_group, "bid": bid}]
    return {0: reply({"type": "new_max", "max_bid": bid, "bidder": id_in_group})}


def vars_for_template(group, id_in_group):
    highest_bidder = group.highest_bidder
    return {
        "max_bid": group.max_bid,
        "highest_bidder": highest_bidder,
        "is_winner": highest_bidder == id_in_group,
    }


def call_live_method(method, page, case, **kwargs):
    """The bots' auction: checks every route. Case "b" sends bare-number bids."""
    if page != "Bid":
        return

    def bid(amount, **extra):
        if case == "b" and not extra:
            return amount
        return {"bid": amount, **extra}

    check(
        "1 (player 1 connects)",
        method(1, {"type": "connect"}),
        {1: {"type": "state", "max_bid": 0, "history": []}},
    )
    check(
        "2 (player 1 bids 10)",
        method(1, bid(10)),
        {0: {"type": "new_max", "max_bid": 10, "bidder": 1}},
    )
    check(
        "3 (player 2 bids 5)",
        method(2, bid(5)),
        {2: {"type": "rejected", "max_bid": 10, "bid": 5}},
    )
    check(
        "4 (player 3 bids 20 with seq 7)",
        method(3, bid(20, seq=7)),
        {0: {"type": "new_max", "max_bid": 20, "bidder": 3, "seq": 7}},
    )
    history = [{"bidder": 1, "bid": 10}, {"bidder": 3, "bid": 20}]
    check(
        "5 (player 1 reconnects)",
        method(1, {"type": "connect"}),
        {1: {"type": "state", "max_bid": 20, "history": history}},
    )


def check(step, got, want):
    if got != want:
        raise AssertionError(f"step {step}: expected {want}, got {got}")
