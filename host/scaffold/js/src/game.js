// @NAME@: a counter the group shares. Each press on the live page adds one; everyone in
// the group sees the new count, and the presser alone also hears how often they pressed.
//
// Payload: "press" (the page's button sends it). Anything else is refused with the reason,
// which the sender alone gets as {"error": ...}. The SDK's whole API is in
// docs/writing-a-game-js.md of the Stoa checkout.

// A player's liveSend(payload). The writes commit only if this returns normally.
export function liveMethod(group, idInGroup, payload) {
  if (payload !== "press") throw new TypeError(`send "press", not ${JSON.stringify(payload)}`);
  group.count += 1;
  const player = group.getPlayerById(idInGroup);
  player.presses += 1;
  return {
    0: { count: group.count, by: idInGroup }, // to everyone
    [idInGroup]: { presses: player.presses }, // to the presser alone
  };
}

// The Results page's {{count}}.
export function varsForTemplate(group, idInGroup) {
  return { count: group.count };
}

// The Counter page's form: everyone presses at least once before going on.
export function errorMessage(group, idInGroup, values) {
  if (group.page === "Counter" && group.getPlayerById(idInGroup).presses === 0) {
    return "Press at least once before you go on.";
  }
}

// The bot (`stoa bots`): every player presses once, and each press is checked.
export function callLiveMethod(method, { group, page }) {
  if (page !== "Counter") return;
  let count = group.count;
  for (const player of group.getPlayers()) {
    const me = player.idInGroup;
    const presses = player.presses;
    const routed = method(me, "press");
    count += 1;
    const want = { 0: { count, by: me }, [me]: { presses: presses + 1 } };
    if (JSON.stringify(routed) !== JSON.stringify(want)) {
      throw new Error(`player ${me} presses: expected ${JSON.stringify(want)}, got ${JSON.stringify(routed)}`);
    }
  }
}

// The bots' form submissions: on Guess, one over the maximum (it must be refused), then the
// right count.
export function botSubmissions(player, botCase) {
  if (player.group.page !== "Guess") return undefined;
  return [{ values: { guess: 1001 }, mustFail: true }, { guess: player.group.count }];
}

// The wait page, once the whole group is there: one point per press, 5 more for a right
// guess (the built-in `payoff` field; the admin's payments page sums it).
export const ResultsWait = {
  afterAllPlayersArrive(group) {
    for (const p of group.getPlayers()) p.payoff = p.presses + (p.guess === group.count ? 5 : 0);
  },
};
