"""Bargaining: two players haggle over a price (oTree's live bargaining demo).

Messages:

- `{"type": "offer", "amount": N}`: records N as the sender's standing offer and sends
  `{"type": "offer", "from": id, "amount": N}` to the other player alone.
- `{"type": "accept"}`: accepts the other player's standing offer: the group's `deal_price`
  and `done` are set and everyone gets `{"type": "deal", "price": N}`.

Once the deal is done, both are refused.
"""


def live_method(group, id_in_group, payload):
    kind = payload.get("type") if isinstance(payload, dict) else None
    if kind not in ("offer", "accept"):
        raise ValueError(f'expected {{"type": "offer", "amount": N}} or {{"type": "accept"}}; got {payload!r}')
    if group.done:
        raise ValueError(f"the deal is already done, at {group.deal_price}")

    me = group.get_player_by_id(id_in_group)
    [other] = me.get_others_in_group()
    if kind == "offer":
        amount = payload.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"an offer's amount is a whole number, 0 or more; got {amount!r}")
        me.offer = amount
        return {other.id_in_group: {"type": "offer", "from": id_in_group, "amount": amount}}

    price = other.offer
    if price is None:
        raise ValueError(f"player {other.id_in_group} has made no offer to accept")
    me.accepted = True
    group.deal_price = price
    group.done = True
    return {0: {"type": "deal", "price": price}}


def vars_for_template(group, id_in_group):
    me = group.get_player_by_id(id_in_group)
    [other] = me.get_others_in_group()
    my_offer, partner_offer = me.offer, other.offer
    return {
        "done": group.done,
        "deal_price": group.deal_price,
        "my_offer": my_offer,
        "has_my_offer": my_offer is not None,  # an offer of 0 is falsy to {{#if}}
        "partner_offer": partner_offer,
        "has_partner_offer": partner_offer is not None,
        "partner_id": other.id_in_group,
    }


def call_live_method(method, group, page, **kwargs):
    """Two offers, each to the other player only, then an accept broadcast to both."""
    if page != "Bargain":
        return
    check(
        "1 (player 1 offers 50)",
        method(1, {"type": "offer", "amount": 50}),
        {2: {"type": "offer", "from": 1, "amount": 50}},
    )
    check(
        "2 (player 2 offers 70)",
        method(2, {"type": "offer", "amount": 70}),
        {1: {"type": "offer", "from": 2, "amount": 70}},
    )
    check(
        "3 (player 1 accepts 70)",
        method(1, {"type": "accept"}),
        {0: {"type": "deal", "price": 70}},
    )
    check("4 (the group records the deal)", (group.done, group.deal_price), (True, 70))


def check(step, got, want):
    if got != want:
        raise AssertionError(f"step {step}: expected {want}, got {got}")
