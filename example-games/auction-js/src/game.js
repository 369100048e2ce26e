// The auction, in JavaScript: the same game as the Rust example-games/auction.
//
// Three players bid on a live page. A bid above the current maximum becomes the maximum and
// is broadcast to the group; any other bid is answered to its bidder alone. A player that
// (re)connects asks for the state and gets the maximum and who holds it. The game keeps no
// list of past bids: the page gets the group's log (every new_max) replayed when it opens.
//
// Payloads (what `liveSend` may send):
// - `{"bid": N}` or a bare `N` (a non-negative integer): a bid. Above `max_bid`, it sets
//   `max_bid` and `highest_bidder` and broadcasts `{"type": "new_max", "max_bid": N, "bidder": id}`;
//   otherwise the sender alone gets `{"type": "rejected", "max_bid": M, "bid": N}`. Either way
//   it counts in the player's `bids`.
// - `{"type": "connect"}`: the sender alone gets
//   `{"type": "state", "max_bid": M, "highest_bidder": id}` (0: no bid yet).
// - Any `"seq"` key of an object payload is echoed in every reply it causes, so load tools can
//   match replies to sends. Anything else is refused with the reason.

const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

export function liveMethod(group, idInGroup, payload) {
  const bid = parse(payload);
  const reply = (message) => {
    if (isObject(payload) && "seq" in payload) message.seq = payload.seq;
    return message;
  };

  const maxBid = group.max_bid ?? 0;
  if (bid === null) {
    return { [idInGroup]: reply({ type: "state", max_bid: maxBid, highest_bidder: group.highest_bidder ?? 0 }) };
  }

  const player = group.getPlayerById(idInGroup);
  player.bids = (player.bids ?? 0) + 1;
  if (bid <= maxBid) {
    return { [idInGroup]: reply({ type: "rejected", max_bid: maxBid, bid }) };
  }
  group.max_bid = bid;
  group.highest_bidder = idInGroup;
  return { 0: reply({ type: "new_max", max_bid: bid, bidder: idInGroup }) };
}

export function varsForTemplate(group, idInGroup) {
  const maxBid = group.max_bid ?? 0;
  const highestBidder = group.highest_bidder ?? 0;
  return {
    max_bid: maxBid,
    highest_bidder: highestBidder,
    is_winner: maxBid > 0 && highestBidder === idInGroup,
  };
}

// The bid a payload makes, or null for a connect; throws with the reason.
function parse(payload) {
  if (typeof payload === "number") return amount(payload);
  if (isObject(payload)) {
    const kind = typeof payload.type === "string" ? payload.type : null;
    if (kind === "connect") return null;
    if (kind !== null && kind !== "bid") {
      throw new Error(`unknown message type ${JSON.stringify(kind)} (expected "connect" or a bid)`);
    }
    if (!("bid" in payload)) throw new Error(`a bid needs a "bid" key, got ${short(payload)}`);
    return amount(payload.bid);
  }
  throw new Error(`expected {"bid": N}, a bare number N or {"type": "connect"}, got ${short(payload)}`);
}

function amount(bid) {
  if (!Number.isSafeInteger(bid) || bid < 0) throw new Error(`bid must be a non-negative integer, got ${short(bid)}`);
  return bid;
}

// A value for an error message, as JSON cut to a readable length.
function short(value) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 80 ? text : `${text.slice(0, 80)}...`;
}

// The bots' auction: a short scripted auction, checking what each call routes and to whom.
// Starts from whatever the group holds, so bids are relative to the current maximum.
// Case "a" (and no case) bids with {"bid": N}; case "b" with bare numbers, and also checks
// that a negative bid is refused.
export function callLiveMethod(method, { group, page, case: botCase }) {
  if (page !== "Bid") return;
  if (botCase != null && botCase !== "a" && botCase !== "b") {
    throw new Error(`unknown bot case ${JSON.stringify(botCase)} (this game has "a" and "b")`);
  }
  const players = group.getPlayers().length;
  if (players < 3) throw new Error(`the auction bot needs 3 players, the group has ${players}`);

  const bare = botCase === "b";
  const base = group.max_bid ?? 0;
  const leader = group.highest_bidder ?? 0;
  const bid = (n) => (bare ? n : { bid: n });

  check("player 1 connects", method(1, { type: "connect" }), {
    1: { type: "state", max_bid: base, highest_bidder: leader },
  });
  check("player 1 bids base+10", method(1, bid(base + 10)), {
    0: { type: "new_max", max_bid: base + 10, bidder: 1 },
  });
  check("player 2 bids base+5", method(2, bid(base + 5)), {
    2: { type: "rejected", max_bid: base + 10, bid: base + 5 },
  });
  // A seq must come back in the reply; case "b" uses a number, case "a" a string.
  const seq = bare ? 4 : "bot-4";
  check("player 3 bids base+20 with a seq", method(3, { bid: base + 20, seq }), {
    0: { type: "new_max", max_bid: base + 20, bidder: 3, seq },
  });
  check("player 1 reconnects", method(1, { type: "connect" }), {
    1: { type: "state", max_bid: base + 20, highest_bidder: 3 },
  });
  // The bot's own instance sees every committed write.
  check(
    "fields after the auction",
    { highest_bidder: group.highest_bidder, player_2_bid: (group.player(2).bids ?? 0) >= 1 },
    { highest_bidder: 3, player_2_bid: true },
  );
}

// Fails the bot run, naming the step, unless `got` and `want` are the same JSON (any key order).
function check(step, got, want) {
  const canon = (v) => JSON.stringify(v, (_k, x) => (isObject(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
  if (canon(got) !== canon(want)) {
    throw new Error(`bot step \`${step}\`: expected ${canon(want)}, got ${canon(got)}`);
  }
}
