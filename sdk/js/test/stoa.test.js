// The JavaScript SDK and the JavaScript example game under Node, against a fake host.
// Run: `npm test` in sdk/js (or `make js-sdk-test`). The component itself is checked by
// `stoa bots` (`make js-games-bots`).

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, it, mock } from "node:test";
import { fileURLToPath } from "node:url";
import { errorText, FieldError, Group, LiveError, Session, Submission, submissionMustFail, world } from "../stoa.js";
import { FakeHost } from "./fake-host.js";
import * as auction from "../../../example-games/auction-js/src/game.js";
import * as otreeShape from "./otree-shape/src/game.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const AUCTION = join(HERE, "..", "..", "..", "example-games", "auction-js");
const OTREE = join(HERE, "otree-shape");

// A live call with a JS payload; routed messages as {to: payload}.
function live(host, id, payload, page = "Bid") {
  return Object.fromEntries(host.live(page, id, JSON.stringify(payload)).map((m) => [m.to, JSON.parse(m.payload)]));
}

function quietly(fn) {
  const restore = mock.method(console, "error", () => {});
  try {
    return fn();
  } finally {
    restore.mock.restore();
  }
}

describe("field access", () => {
  const setup = () => {
    const host = new FakeHost(AUCTION, auction, 3);
    // A json field beside the auction's own (integer) ones.
    host.fields.group.notes = { type: "json", initial: [] };
    host.group.notes = [];
    host.writable = true;
    return { host, group: new Group(host.ctx("Bid"), host) };
  };

  it("reads fields as properties or through get, JSON-decoded", () => {
    const { host, group } = setup();
    host.group.notes = [{ bidder: 1, bid: 3 }];
    assert.equal(group.max_bid, 0);
    assert.deepEqual(group.get("notes"), [{ bidder: 1, bid: 3 }]);
  });

  it("writes fields as properties or through set", () => {
    const { host, group } = setup();
    group.max_bid = 12;
    group.set("notes", [1, "two"]);
    assert.equal(host.group.max_bid, 12);
    assert.deepEqual(group.notes, [1, "two"]);
  });

  it("reaches players and their fields", () => {
    const { host, group } = setup();
    const p = group.getPlayerById(2);
    p.bids += 1;
    group.player(2).set("bids", group.player(2).get("bids") + 1);
    assert.equal(host.player[2].bids, 2);
    assert.deepEqual(p.getOthersInGroup().map((q) => q.idInGroup), [1, 3]);
    assert.deepEqual(group.getPlayers().map((q) => q.idInGroup), [1, 2, 3]);
  });

  it("turns a refused write into a FieldError naming the field", () => {
    const { group } = setup();
    assert.throws(() => (group.max_bid = "lots"), (e) => e instanceof FieldError && e.message.startsWith("group.max_bid: "));
    assert.throws(() => (group.player(1).bids = 1.5), (e) => e instanceof FieldError && e.message.startsWith("player(1).bids: "));
    assert.throws(() => group.nope, FieldError);
  });

  it("refuses values JSON would change or drop before asking the host", () => {
    const { host, group } = setup();
    assert.throws(() => (group.max_bid = NaN), FieldError);
    assert.throws(() => (group.notes = [Infinity]), FieldError);
    assert.throws(() => (group.notes = undefined), FieldError);
    assert.equal(host.group.max_bid, 0);
  });

  it("keeps context names read-only and out of the fields", () => {
    const { group } = setup();
    assert.deepEqual([group.page, group.roundNumber, group.session, group.idInSubsession], ["Bid", 1, "s1", 1]);
    assert.throws(() => (group.page = "x"), TypeError);
    assert.equal(group.then, undefined); // not awaited as a thenable
    assert.throws(() => group.getPlayerById(4), RangeError);
    assert.throws(() => group.getPlayerById(0), RangeError);
  });
});

describe("exports", () => {
  const host = () => new FakeHost(AUCTION, auction, 3);
  const ctx = { session: "s1", roundNumber: 1, page: "Bid", groupId: 1, players: 3 };

  it("turns a returned object into messages, 0 first", () => {
    const w = world({ liveMethod: (g, id, p) => ({ [id]: { you: p }, 0: { all: true } }) }, host());
    assert.deepEqual(w.liveMethod(ctx, 2, "5"), [
      { to: 0, payload: '{"all":true}' },
      { to: 2, payload: '{"you":5}' },
    ]);
    assert.deepEqual(world({ liveMethod: () => undefined }, host()).liveMethod(ctx, 1, "{}"), []);
  });

  it("answers a bad address or shape with err", () => {
    for (const routed of [{ 4: 1 }, { "-1": 1 }, { x: 1 }, [[0, 1]], 7]) {
      const r = quietly(() => world({ liveMethod: () => routed }, host()).liveMethod(ctx, 1, "{}"));
      assert.equal(r.tag, "err", JSON.stringify(routed));
    }
  });

  it("answers an exception with err holding its one-line text", () => {
    const w = world({ liveMethod: () => { throw new RangeError("bad bid"); } }, host());
    assert.deepEqual(quietly(() => w.liveMethod(ctx, 1, "{}")), { tag: "err", val: "RangeError: bad bid" });
    assert.equal(errorText("plain"), "plain");
    assert.equal(errorText(new FieldError("group.x: no")), "FieldError: group.x: no");
  });

  it("has defaults for the optional functions", () => {
    const w = world({}, host());
    assert.equal(w.errorMessage(ctx, 1, "{}"), undefined);
    assert.equal(w.varsForTemplate(ctx, 1), "{}");
    assert.equal(w.callLiveMethod(ctx, undefined), undefined);
    assert.equal(quietly(() => w.liveMethod(ctx, 1, "{}")).tag, "err");
  });

  it("passes errorMessage's text, or nothing, or oTree's per-field object", () => {
    const w = world({ errorMessage: (g, id, v) => v.why }, host());
    assert.equal(w.errorMessage(ctx, 1, "{}"), undefined);
    assert.equal(w.errorMessage(ctx, 1, '{"why":"no"}'), "no");
    assert.equal(world({ errorMessage: () => ({ bid: "too low" }) }, host()).errorMessage(ctx, 1, "{}"), "bid: too low");
  });

  it("gives callLiveMethod a method returning what was routed, and LiveError on err", () => {
    const h = host();
    let seen;
    h.exports = world({
      liveMethod: auction.liveMethod,
      callLiveMethod(method, bot) {
        seen = { ...bot, routed: method(2, { type: "connect" }) };
        assert.throws(() => method(1, { type: "nonsense" }), (e) => e instanceof LiveError && e.message.startsWith('Error: unknown message type "nonsense"'));
      },
    }, h);
    quietly(() => h.bots("Bid", "a"));
    assert.equal(seen.page, "Bid");
    assert.equal(seen.case, "a");
    assert.equal(seen.roundNumber, 1);
    assert.ok(seen.group instanceof Group);
    assert.deepEqual(seen.routed, { 2: { type: "state", max_bid: 0, highest_bidder: 0 } });
  });
});

describe("auction-js", () => {
  it("passes its bots in both cases", () => {
    for (const c of ["a", "b"]) {
      const h = new FakeHost(AUCTION, auction, 3);
      h.bots("Bid", c);
      h.bots("Results", c);
      assert.equal(h.group.max_bid, 20);
      assert.deepEqual([1, 2, 3].map((id) => h.player[id].bids), [1, 1, 1]);
    }
  });

  it("broadcasts a higher bid and records it", () => {
    const h = new FakeHost(AUCTION, auction, 3);
    assert.deepEqual(live(h, 2, { bid: 7 }), { 0: { type: "new_max", max_bid: 7, bidder: 2 } });
    assert.deepEqual(h.group, { max_bid: 7, highest_bidder: 2 });
    assert.equal(h.player[2].bids, 1);
  });

  it("turns a lower bid back to the bidder alone", () => {
    const h = new FakeHost(AUCTION, auction, 3);
    live(h, 1, 10);
    assert.deepEqual(live(h, 3, 10), { 3: { type: "rejected", max_bid: 10, bid: 10 } });
    assert.equal(h.player[3].bids, 1);
  });

  it("echoes seq, even null", () => {
    const h = new FakeHost(AUCTION, auction, 3);
    assert.equal(live(h, 1, { bid: 3, seq: "x" })[0].seq, "x");
    assert.equal(live(h, 1, { bid: 1, seq: null })[1].seq, null);
    assert.equal(live(h, 1, { type: "connect", seq: 4 })[1].seq, 4);
  });

  it("refuses anything else with the reason and writes nothing", () => {
    const h = new FakeHost(AUCTION, auction, 3);
    const reasons = [
      [-1, "Error: bid must be a non-negative integer, got -1"],
      [2.5, "Error: bid must be a non-negative integer, got 2.5"],
      ["10", 'Error: expected {"bid": N}, a bare number N or {"type": "connect"}, got "10"'],
      [true, 'Error: expected {"bid": N}, a bare number N or {"type": "connect"}, got true'],
      [null, 'Error: expected {"bid": N}, a bare number N or {"type": "connect"}, got null'],
    ];
    for (const [payload, reason] of reasons) {
      assert.throws(() => quietly(() => live(h, 1, payload)), (e) => e instanceof LiveError && e.message === reason);
    }
    for (const [payload, start] of [
      [{ bid: "9" }, "Error: bid must be a non-negative integer"],
      [{ type: "sell" }, 'Error: unknown message type "sell"'],
      [{}, 'Error: a bid needs a "bid" key'],
      [{ type: 5 }, 'Error: a bid needs a "bid" key'],
      [{ bid: "x".repeat(200) }, "Error: bid must be a non-negative integer"],
    ]) {
      assert.throws(() => quietly(() => live(h, 1, payload)), (e) => e instanceof LiveError && e.message.startsWith(start));
    }
    assert.equal(h.player[1].bids, 0);
  });

  it("takes a typed bid as a bid", () => {
    const h = new FakeHost(AUCTION, auction, 3);
    assert.deepEqual(live(h, 1, { type: "bid", bid: 0, seq: 3 }), { 1: { type: "rejected", max_bid: 0, bid: 0, seq: 3 } });
  });

  it("runs its bots from what the group holds, and refuses unknown cases", () => {
    const h = new FakeHost(AUCTION, auction, 3);
    live(h, 2, 50);
    h.bots("Bid", "a");
    assert.equal(h.group.max_bid, 70);
    assert.throws(() => quietly(() => h.bots("Bid", "c")), /unknown bot case "c"/);
  });

  it("gives the templates max_bid, highest_bidder and is_winner", () => {
    const h = new FakeHost(AUCTION, auction, 3);
    assert.deepEqual(h.vars("Results", 1), { max_bid: 0, highest_bidder: 0, is_winner: false });
    live(h, 3, 4);
    assert.deepEqual(h.vars("Results", 3), { max_bid: 4, highest_bidder: 3, is_winner: true });
  });
});

describe("oTree's shape over contract 0.2: a public goods study through every hook", () => {
  const setup = () => {
    const h = new FakeHost(OTREE, otreeShape, 3);
    h.createSession();
    return h;
  };
  const playRound = (h, contributions) => {
    contributions.forEach((c, i) => assert.equal(h.submit("Contribute", i + 1, { contribution: c }), undefined));
    h.arrive("ResultsWait");
  };

  it("writes the session, participants and every round's groups in creatingSession", () => {
    const h = setup();
    assert.deepEqual(h.session, { seed: 42 });
    assert.deepEqual([1, 2, 3].map((id) => h.participant[id].color), ["red", "green", "blue"]);
    assert.deepEqual([1, 2, 3].map((r) => h.created[r][0].chat), [["round 1"], ["round 2"], ["round 3"]]);
  });

  it("computes payoffs with the config's multiplier, then reads earlier rounds", () => {
    const h = setup();
    playRound(h, [10, 20, 30]);
    assert.equal(h.group.total, 60);
    assert.deepEqual([1, 2, 3].map((id) => h.player[id].payoff), [130, 120, 110]);
    assert.deepEqual([1, 2, 3].map((id) => h.participant[id].rounds_played), [1, 1, 1]);
    h.nextRound();
    playRound(h, [0, 0, 0]);
    assert.deepEqual(h.group.chat, ["round 2"]);
    assert.deepEqual(h.vars("Results", 1), { earlier: [130], earlier_totals: [60], points: 230, color: "red" });
  });

  it("changes what it computes with the treatment", () => {
    const h = setup();
    h.config.multiplier = 2.7;
    playRound(h, [100, 100, 100]);
    assert.ok(Math.abs(h.player[1].payoff - 270) < 1e-9, String(h.player[1].payoff));
  });

  it("gives errorMessage typed values and stores nothing on a refusal", () => {
    const h = setup();
    assert.equal(h.submit("Contribute", 1, { contribution: 101 }), "contribution: more than you have");
    assert.equal(h.player[1].contribution, null);
    assert.equal(h.participant[1].rounds_played, 0);
  });

  it("runs beforeNextPage on a timeout", () => {
    const h = setup();
    assert.equal(h.submit("Contribute", 2, {}, true), undefined);
    assert.equal(h.player[2].contribution, 0);
  });

  it("writes nothing when a hook fails", () => {
    const h = setup();
    h.exports = world({
      shape: "otree",
      afterAllPlayersArrive(group) {
        group.total = 5;
        group.getPlayerById(1).payoff = 3;
        group.getPlayerById(2).payoff = "lots"; // refused by the host: the whole hook fails
      },
    }, h);
    assert.throws(() => quietly(() => h.arrive("ResultsWait")), /FieldError: player\(2\)\.payoff: /);
    assert.deepEqual([h.group.total, h.player[1].payoff], [0, 0]);
  });

  it("answers isDisplayed and getTimeoutSeconds per page", () => {
    const h = setup();
    assert.equal(h.exports.isDisplayed(h.ctx("Intro"), 1), true);
    assert.equal(h.exports.isDisplayed(h.ctx("Results"), 1), true);
    assert.equal(h.exports.getTimeoutSeconds(h.ctx("Contribute"), 1), undefined);
    h.nextRound();
    assert.equal(h.exports.isDisplayed(h.ctx("Intro"), 1), false);
    assert.equal(h.exports.getTimeoutSeconds(h.ctx("Contribute"), 1), 30);
  });

  it("gives bot submissions, must-fail ones and the default", () => {
    const h = setup();
    assert.deepEqual(h.submissions("Contribute", 2), [[{ contribution: 101 }, true], [{ contribution: 20 }, false]]);
    assert.deepEqual(h.submissions("Results", 2), [[{}, false]]);
    assert.deepEqual(world({}, h).botSubmissions(h.ctx("X"), 1), [{ values: "{}", mustFail: false }]);
    const w = world({ botSubmissions: () => [submissionMustFail({ a: 1 }), new Submission({ b: 2 })] }, h);
    assert.deepEqual(w.botSubmissions(h.ctx("X"), 1), [{ values: '{"a":1}', mustFail: true }, { values: '{"b":2}', mustFail: false }]);
    for (const bad of [5, [5], [null]]) {
      assert.throws(() => world({ botSubmissions: () => bad }, h).botSubmissions(h.ctx("X"), 1), TypeError, JSON.stringify(bad));
    }
    for (const bad of [-1, Infinity, "10"]) {
      assert.throws(() => world({ getTimeoutSeconds: () => bad }, h).getTimeoutSeconds(h.ctx("X"), 1), RangeError);
    }
  });

  it("calls liveMethod as (player, data)", () => {
    const h = setup();
    assert.deepEqual(live(h, 3, "hi", "Contribute"), { 0: { from: 3, text: "hi" } });
    assert.deepEqual(h.group.chat, ["round 1", "blue: hi"]);
  });

  it("refuses writes where the contract does, and rounds that are not yet", () => {
    const h = setup();
    h.writable = true;
    const group = new Group(h.ctx("Results"), h, true);
    assert.throws(() => (group.session.seed = 1), (e) => e instanceof FieldError && e.message.startsWith("session.seed: "));
    h.nextRound();
    const player = new Group(h.ctx("Results"), h, true).getPlayerById(1);
    assert.throws(() => (player.inRound(1).payoff = 3), (e) => e.message === "player(1).inRound(1).payoff: earlier rounds are read-only");
    assert.equal(player.inRound(2), player);
    for (const bad of [0, 3, 1.5]) assert.throws(() => player.inRound(bad), RangeError);
  });

  it("keeps the 0.1 shape without the marker, and refuses a bad marker", () => {
    const h = setup();
    const seen = [];
    const seed = { liveMethod: (group, id, payload) => seen.push([group instanceof Group, id, payload, group.session]) };
    const otree = { shape: "otree", liveMethod: (player, data) => seen.push([player.idInGroup, data, player.session instanceof Session, `${player.session}`]) };
    h.writable = true;
    world(seed, h).liveMethod(h.ctx("P"), 2, "7");
    world(otree, h).liveMethod(h.ctx("P"), 2, "7");
    assert.deepEqual(seen, [[true, 2, 7, "s1"], [2, 7, true, "s1"]]);
    assert.throws(() => world({ shape: "oTree" }, h), TypeError);
  });

  it("prefers a page object's hook, and follows a string to a module function", () => {
    const h = setup();
    const game = { shape: "otree", Bid: { varsForTemplate: () => ({ from: "Bid" }), liveMethod: "liveBid" }, varsForTemplate: () => ({ from: "module" }), liveBid: (p, d) => ({ 0: d }) };
    const w = world(game, h);
    assert.equal(w.varsForTemplate(h.ctx("Bid"), 1), '{"from":"Bid"}');
    assert.equal(w.varsForTemplate(h.ctx("Results"), 1), '{"from":"module"}');
    h.writable = true;
    assert.deepEqual(w.liveMethod(h.ctx("Bid"), 1, "5"), [{ to: 0, payload: "5" }]);
  });
});
