"""A public goods round in oTree 5's shape: the hooks as module functions and as static
methods of classes named after the pages, as an oTree app holds them."""

from stoa import SubmissionMustFail

COLORS = ["red", "green", "blue"]


def creating_session(subsession):
    if subsession.round_number == 1:
        subsession.session.seed = 42
        for p in subsession.get_players():
            p.participant.color = COLORS[p.id_in_group - 1]
    for group in subsession.get_groups():
        group.chat = [f"round {subsession.round_number}"]


def live_method(player, data):
    group = player.group
    group.chat = group.chat + [f"{player.participant.color}: {data}"]
    return {0: {"from": player.id_in_group, "text": data}}


class Intro:
    @staticmethod
    def is_displayed(player):
        return player.round_number == 1


class Contribute:
    @staticmethod
    def error_message(player, values):
        if values["contribution"] > player.session.config["endowment"]:
            return {"contribution": "more than you have"}
        return None

    @staticmethod
    def before_next_page(player, timeout_happened):
        if timeout_happened:
            player.contribution = 0
        player.participant.rounds_played += 1

    @staticmethod
    def get_timeout_seconds(player):
        return 30 if player.round_number > 1 else None


class ResultsWait:
    @staticmethod
    def after_all_players_arrive(group):
        players = group.get_players()
        config = group.session.config
        group.total = sum(p.contribution for p in players)
        group.share = group.total * config["multiplier"] / len(players)
        for p in players:
            p.payoff = config["endowment"] - p.contribution + group.share


def vars_for_template(player):
    return {
        "earlier": [q.payoff for q in player.in_previous_rounds()],
        "earlier_totals": [g.total for g in player.group.in_previous_rounds()],
        "points": player.participant.payoff,
        "color": player.participant.color,
    }


def bot_submissions(player, case):
    if player.group.page == "Contribute":
        return [SubmissionMustFail({"contribution": 101}), {"contribution": 10 * player.id_in_group}]
    return None
