// A public goods round in oTree 5's shape, in JS: the hooks as module functions and as
// methods of objects named after the pages, as an oTree app's page classes hold them.

export const shape = "otree";

const COLORS = ["red", "green", "blue"];

export function creatingSession(subsession) {
  if (subsession.roundNumber === 1) {
    subsession.session.seed = 42;
    for (const p of subsession.getPlayers()) p.participant.color = COLORS[p.idInGroup - 1];
  }
  for (const group of subsession.getGroups()) group.chat = [`round ${subsession.roundNumber}`];
}

export function liveMethod(player, data) {
  const group = player.group;
  group.chat = [...group.chat, `${player.participant.color}: ${data}`];
  return { 0: { from: player.idInGroup, text: data } };
}

export const Intro = {
  isDisplayed: (player) => player.roundNumber === 1,
};

export const Contribute = {
  errorMessage(player, values) {
    if (values.contribution > player.session.config.endowment) return { contribution: "more than you have" };
    return undefined;
  },
  beforeNextPage(player, timeoutHappened) {
    if (timeoutHappened) player.contribution = 0;
    player.participant.rounds_played += 1;
  },
  getTimeoutSeconds: (player) => (player.roundNumber > 1 ? 30 : undefined),
};

export const ResultsWait = {
  afterAllPlayersArrive(group) {
    const players = group.getPlayers();
    const config = group.session.config;
    group.total = players.reduce((sum, p) => sum + p.contribution, 0);
    group.share = (group.total * config.multiplier) / players.length;
    for (const p of players) p.payoff = config.endowment - p.contribution + group.share;
  },
};

export function varsForTemplate(player) {
  return {
    earlier: player.inPreviousRounds().map((q) => q.payoff),
    earlier_totals: player.group.inPreviousRounds().map((g) => g.total),
    points: player.participant.payoff,
    color: player.participant.color,
  };
}

export function botSubmissions(player) {
  if (player.group.page === "Contribute") {
    return [{ values: { contribution: 101 }, mustFail: true }, { contribution: 10 * player.idInGroup }];
  }
  return undefined;
}
