"""@NAME@: a counter the group shares. Each press on the live page adds one; everyone in
the group sees the new count, and the presser alone also hears how often they pressed.

Payload: "press" (the page's button sends it). Anything else is refused with the reason,
which the sender alone gets as {"error": ...}. The SDK's whole API is in
docs/writing-a-game-python.md of the Stoa checkout.
"""

from stoa import SubmissionMustFail


def live_method(group, id_in_group, payload):
    """A player's liveSend(payload). The writes commit only if this returns normally."""
    if payload != "press":
        raise ValueError(f'send "press", not {payload!r}')
    group.count += 1
    player = group.get_player_by_id(id_in_group)
    player.presses += 1
    return {
        0: {"count": group.count, "by": id_in_group},  # to everyone
        id_in_group: {"presses": player.presses},  # to the presser alone
    }


def vars_for_template(group, id_in_group):
    """The Results page's {{count}}."""
    return {"count": group.count}


def error_message(group, id_in_group, values):
    """The Counter page's form: everyone presses at least once before going on."""
    if group.page == "Counter" and group.get_player_by_id(id_in_group).presses == 0:
        return "Press at least once before you go on."


def call_live_method(method, group, page, **kwargs):
    """The bot (`stoa bots`): every player presses once, and each press is checked."""
    if page != "Counter":
        return
    count = group.count
    for player in group.get_players():
        me = player.id_in_group
        presses = player.presses
        routed = method(me, "press")
        count += 1
        want = {0: {"count": count, "by": me}, me: {"presses": presses + 1}}
        assert routed == want, f"player {me} presses: expected {want}, got {routed}"


def bot_submissions(player, case):
    """The bots' form submissions: on Guess, one over the maximum (it must be refused), then
    the right count."""
    if player.group.page == "Guess":
        return [SubmissionMustFail({"guess": 1001}), {"guess": player.group.count}]
    return None


def after_all_players_arrive(group):
    """The wait page, once the whole group is there: one point per press, 5 more for a right
    guess (the built-in `payoff` field; the admin's payments page sums it)."""
    for p in group.get_players():
        p.payoff = p.presses + (5 if p.guess == group.count else 0)
