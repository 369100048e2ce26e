// An ascending auction: each bid above the group's highest becomes the new highest and is
// announced to everyone; a lower bid is turned back to its bidder alone.
//
// Messages (the same as the Rust example-games/auction):
// - `{"bid": N}` or a bare `N`: a bid. Above `max_bid`: everyone gets
//   `{"type": "new_max", "max_bid": N, "bidder": id}`. Otherwise the bidder gets
//   `{"type": "rejected", "max_bid": M, "bid": N}`. Either way the player's `bids` goes up.
// - `{"type": "connect"}`: the sender gets `{"type": "state", "max_bid": M, "history": [...]}`.
// - A `"seq"` key in an object payload is echoed in every reply it causes.

const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

export function liveMethod(group, idInGroup, payload) {
  const reply = (message) => {
    if (isObject(payload) && "seq" in payload) message.seq = payload.seq;
    return message;
  };

  if (isObject(payload) && payload.type === "connect") {
    return { [idInGroup]: reply({ type: "state", max_bid: group.max_bid, history: group.history }) };
  }

  const bid = isObject(payload) ? payload.bid : payload;
  if (!Number.isInteger(bid)) {
    throw new TypeError(`expected {"bid": N}, a whole number N, or {"type": "connect"}; got ${JSON.stringify(payload)}`);
  }

  const player = group.getPlayerById(idInGroup);
  player.bids += 1;
  if (bid <= group.max_bid) {
    return { [idInGroup]: reply({ type: "rejected", max_bid: group.max_bid, bid }) };
  }
  group.max_bid = bid;
  group.highest_bidder = idInGroup;
  group.history = [...group.history, { bidder: idInGroup, bid }];
  return { 0: reply({ type: "new_max", max_bid: bid, bidder: idInGroup }) };
}

export function varsForTemplate(group, idInGroup) {
  const highestBidder = group.highest_bidder;
  return {
    max_bid: group.max_bid,
    highest_bidder: highestBidder,
    is_winner: highestBidder === idInGroup,
  };
}

// The bots' auction: checks every route. Case "b" sends bare-number bids.
export function callLiveMethod(method, bot) {
  if (bot.page !== "Bid") return;
  const bid = (amount, extra) => (bot.case === "b" && !extra ? amount : { bid: amount, ...extra });

  check("1 (player 1 connects)", method(1, { type: "connect" }), {
    1: { type: "state", max_bid: 0, history: [] },
  });
  check("2 (player 1 bids 10)", method(1, bid(10)), {
    0: { type: "new_max", max_bid: 10, bidder: 1 },
  });
  check("3 (player 2 bids 5)", method(2, bid(5)), {
    2: { type: "rejected", max_bid: 10, bid: 5 },
  });
  check("4 (player 3 bids 20 with seq 7)", method(3, bid(20, { seq: 7 })), {
    0: { type: "new_max", max_bid: 20, bidder: 3, seq: 7 },
  });
  const history = [{ bidder: 1, bid: 10 }, { bidder: 3, bid: 20 }];
  check("5 (player 1 reconnects)", method(1, { type: "connect" }), {
    1: { type: "state", max_bid: 20, history },
  });
}

// Compares as JSON with sorted keys, so key order does not matter.
function check(step, got, want) {
  const canon = (v) => JSON.stringify(v, (_k, x) => (isObject(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
  if (canon(got) !== canon(want)) {
    throw new Error(`step ${step}: expected ${canon(want)}, got ${canon(got)}`);
  }
}
