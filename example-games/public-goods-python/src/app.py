"""The public goods game in oTree 5's shape: the same study as example-games/public-goods.

Each of three players has `endowment` points and contributes part of it on `Contribute`
(the host checks 0..=100 and stores `contribution`). When the group is complete on
`ResultsWait`, the pot is multiplied by the session config's `multiplier` (the treatment
`high` raises it) and shared; `Results` lists every round so far.
"""

from stoa import SubmissionMustFail


def live_method(player, data):
    raise ValueError("the public goods game has no live page")


def vars_for_template(player):
    history = []
    if player.group.page == "Results":
        earlier = zip(player.in_previous_rounds(), player.group.in_previous_rounds())
        rounds = list(earlier) + [(player, player.group)]
        for n, (p, g) in enumerate(rounds, start=1):
            history.append({"round": n, "contribution": p.contribution, "total": g.total_contribution, "payoff": p.payoff})
    config = player.session.config
    return {"endowment": config["endowment"], "multiplier": config["multiplier"], "history": history}


class ResultsWait:
    @staticmethod
    def after_all_players_arrive(group):
        players = group.get_players()
        config = group.session.config
        group.total_contribution = sum(p.contribution for p in players)
        group.individual_share = group.total_contribution * config["multiplier"] / len(players)
        for p in players:
            p.payoff = config["endowment"] - p.contribution + group.individual_share


def bot_submissions(player, case):
    if player.group.page == "Contribute":
        return [SubmissionMustFail({"contribution": 101}), {"contribution": 50}]
    return None
