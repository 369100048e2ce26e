"""The Python SDK and the Python example games under plain CPython, against a fake host.

Run: `python3 -m unittest discover -s sdk/python/tests -t sdk/python` (or `make py-sdk-test`).
The components themselves are checked by `stoa bots` (`make py-games-bots`).
"""

import json
import sys
import unittest
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "sdk" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_host import FakeHost  # noqa: E402

from stoa import FieldError, Group, LiveError, Session, Submission, SubmissionMustFail, _exports  # noqa: E402

AUCTION = ROOT / "example-games" / "auction-python"
BARGAINING = ROOT / "example-games" / "bargaining-python"
OTREE = Path(__file__).resolve().parent / "otree_shape"


def game(**functions):
    return SimpleNamespace(**functions)


def live(host, id_in_group, payload, page="Bid"):
    """A live call with a Python payload; routed messages as {to: payload}."""
    return {to: json.loads(p) for to, p in host.live(page, id_in_group, json.dumps(payload))}


class FieldAccess(unittest.TestCase):
    def setUp(self):
        self.host = FakeHost(AUCTION)
        # A json field beside the auction's own (integer) ones.
        self.host.group_types["notes"] = "json"
        self.host.group["notes"] = []
        self.host.writable = True
        self.group = Group(self.host.ctx("Bid"), self.host)

    def test_attribute_and_item_reads_decode_json(self):
        self.host.group["notes"] = [{"bidder": 1, "bid": 3}]
        self.assertEqual(self.group.max_bid, 0)
        self.assertEqual(self.group["notes"], [{"bidder": 1, "bid": 3}])

    def test_writes_are_encoded_and_read_back(self):
        self.group.max_bid = 12
        self.group["notes"] = [1, "two"]
        self.assertEqual(self.host.group["max_bid"], 12)
        self.assertEqual(self.group.notes, [1, "two"])

    def test_player_fields_read_and_write(self):
        p = self.group.get_player_by_id(2)
        p.bids += 1
        self.group.player(2)["bids"] += 1
        self.assertEqual(self.host.player[2]["bids"], 2)
        self.assertEqual([q.id_in_group for q in p.get_others_in_group()], [1, 3])

    def test_a_refused_write_raises_field_error_naming_the_field(self):
        with self.assertRaises(FieldError) as e:
            self.group.max_bid = "lots"
        self.assertTrue(str(e.exception).startswith("group.max_bid: "), str(e.exception))
        with self.assertRaises(FieldError) as e:
            self.group.get_player_by_id(1).bids = 1.5
        self.assertTrue(str(e.exception).startswith("player(1).bids: "), str(e.exception))

    def test_an_undeclared_field_is_a_field_error_and_an_attribute_error(self):
        with self.assertRaises(FieldError):
            self.group.nope
        self.assertFalse(hasattr(self.group, "nope"))
        self.assertIsNone(getattr(self.group, "_private", None))

    def test_values_json_cannot_hold_are_refused_before_the_host(self):
        with self.assertRaises(FieldError):
            self.group.max_bid = float("nan")
        with self.assertRaises(FieldError):
            self.group.notes = {1, 2}

    def test_context_names_are_read_only_and_not_fields(self):
        self.assertEqual((self.group.page, self.group.round_number, self.group.session), ("Bid", 1, "s1"))
        self.assertEqual(self.group.id_in_subsession, 1)
        with self.assertRaises(AttributeError):
            self.group.page = "x"
        with self.assertRaises(AttributeError):
            self.group.get_player_by_id(1).id_in_group = 3

    def test_no_such_player_is_a_value_error(self):
        for bad in (0, 4, True, "1"):
            with self.assertRaises(ValueError):
                self.group.get_player_by_id(bad)


class Exports(unittest.TestCase):
    def setUp(self):
        self.host = FakeHost(AUCTION)
        self.ctx = self.host.ctx("Bid")

    def call(self, app, payload):
        self.host.writable = True
        return _exports.live_method(app, self.ctx, self.host, 1, json.dumps(payload))

    def test_a_returned_dict_becomes_messages_in_order(self):
        app = game(live_method=lambda g, i, p: {i: {"you": p}, 0: {"all": True}})
        self.assertEqual(self.call(app, 5), [(1, '{"you":5}'), (0, '{"all":true}')])

    def test_none_routes_nothing(self):
        self.assertEqual(self.call(game(live_method=lambda g, i, p: None), {}), [])

    def test_bad_addresses_and_shapes_are_errors(self):
        for routed in ({4: 1}, {-1: 1}, {"1": 1}, {True: 1}, [(0, 1)]):
            with self.subTest(routed=routed), self.assertRaises((TypeError, ValueError)):
                self.call(game(live_method=lambda g, i, p, r=routed: r), {})

    def test_error_text_is_the_tracebacks_last_line(self):
        self.assertEqual(_exports.error_text(ValueError("bad bid")), "ValueError: bad bid")
        self.assertEqual(_exports.error_text(AssertionError()), "AssertionError")
        self.assertEqual(_exports.error_text(FieldError("x: y")), "stoa.FieldError: x: y")
        self.assertEqual(_exports.error_text(KeyError("bid")), "KeyError: 'bid'")

    def test_report_returns_the_last_line_and_logs_the_frames(self):
        import io
        from contextlib import redirect_stderr

        try:
            {}["bid"]
        except KeyError as e:
            err = io.StringIO()
            with redirect_stderr(err):
                self.assertEqual(_exports.report(e), "KeyError: 'bid'")
        self.assertIn("in test_report_returns_the_last_line_and_logs_the_frames", err.getvalue())

    def test_missing_optional_functions_have_defaults(self):
        app = game()
        self.assertIsNone(_exports.error_message(app, self.ctx, self.host, 1, "{}"))
        self.assertEqual(_exports.vars_for_template(app, self.ctx, self.host, 1), "{}")
        _exports.call_live_method(app, self.ctx, self.host, None)
        with self.assertRaises(NotImplementedError):
            self.call(app, {})

    def test_error_message_text_none_and_otree_dict(self):
        app = game(error_message=lambda g, i, v: v.get("why"))
        self.assertIsNone(_exports.error_message(app, self.ctx, self.host, 1, "{}"))
        self.assertEqual(_exports.error_message(app, self.ctx, self.host, 1, '{"why": "no"}'), "no")
        app = game(error_message=lambda g, i, v: {"bid": "too low"})
        self.assertEqual(_exports.error_message(app, self.ctx, self.host, 1, "{}"), "bid: too low")

    def test_call_live_method_gets_otree_keywords_and_a_method(self):
        seen = {}

        def bots(method, group, page, round_number, case):
            seen.update(page=page, round_number=round_number, case=case, group=group)
            seen["routed"] = method(2, {"type": "connect"})

        self.host.app = game(live_method=self.host.app.live_method, call_live_method=bots)
        self.host.bots("Bid", "a")
        self.assertEqual((seen["page"], seen["round_number"], seen["case"]), ("Bid", 1, "a"))
        self.assertEqual(seen["routed"], {2: {"type": "state", "max_bid": 0, "highest_bidder": 0}})
        self.assertIs(type(seen["group"]), Group)

    def test_a_refused_bot_call_raises_live_error(self):
        def bots(method, **kwargs):
            method(1, {"type": "nonsense"})

        self.host.app = game(live_method=self.host.app.live_method, call_live_method=bots)
        with self.assertRaises(LiveError) as e:
            self.host.bots("Bid")
        self.assertTrue(str(e.exception).startswith('ValueError: unknown message type "nonsense"'), str(e.exception))


class AuctionPython(unittest.TestCase):
    def setUp(self):
        self.host = FakeHost(AUCTION)

    def test_bots_pass_in_both_cases(self):
        for case in ("a", "b"):
            with self.subTest(case=case):
                host = FakeHost(AUCTION)
                host.bots("Bid", case)
                host.bots("Results", case)  # not a live page: nothing happens
                self.assertEqual(host.group["max_bid"], 20)
                self.assertEqual([p["bids"] for p in host.player.values()], [1, 1, 1])

    def test_a_higher_bid_is_broadcast_and_recorded(self):
        self.assertEqual(live(self.host, 2, {"bid": 7}), {0: {"type": "new_max", "max_bid": 7, "bidder": 2}})
        self.assertEqual(self.host.group, {"max_bid": 7, "highest_bidder": 2})
        self.assertEqual(self.host.player[2]["bids"], 1)

    def test_a_lower_bid_goes_back_to_the_bidder_alone(self):
        live(self.host, 1, 10)
        self.assertEqual(live(self.host, 3, 10), {3: {"type": "rejected", "max_bid": 10, "bid": 10}})
        self.assertEqual(self.host.player[3]["bids"], 1)

    def test_seq_is_echoed_even_when_null(self):
        self.assertEqual(live(self.host, 1, {"bid": 3, "seq": "x"})[0]["seq"], "x")
        self.assertIsNone(live(self.host, 1, {"bid": 1, "seq": None})[1]["seq"])
        self.assertEqual(live(self.host, 1, {"type": "connect", "seq": 4})[1]["seq"], 4)

    def test_anything_else_is_refused_with_the_reason_and_writes_nothing(self):
        reasons = {
            -1: "ValueError: bid must be a non-negative integer, got -1",
            2.5: "ValueError: bid must be a non-negative integer, got 2.5",
            "10": 'ValueError: expected {"bid": N}, a bare number N or {"type": "connect"}, got "10"',
            True: 'ValueError: expected {"bid": N}, a bare number N or {"type": "connect"}, got true',
            None: 'ValueError: expected {"bid": N}, a bare number N or {"type": "connect"}, got null',
        }
        for payload, reason in reasons.items():
            with self.subTest(payload=payload), self.assertRaises(LiveError) as e:
                live(self.host, 1, payload)
            self.assertEqual(str(e.exception), reason)
        for payload, start in (
            ({"bid": "9"}, "ValueError: bid must be a non-negative integer"),
            ({"type": "sell"}, 'ValueError: unknown message type "sell"'),
            ({}, 'ValueError: a bid needs a "bid" key'),
            ({"type": 5}, 'ValueError: a bid needs a "bid" key'),
            ({"bid": "x" * 200}, "ValueError: bid must be a non-negative integer"),
        ):
            with self.subTest(payload=payload), self.assertRaises(LiveError) as e:
                live(self.host, 1, payload)
            self.assertTrue(str(e.exception).startswith(start), str(e.exception))
        self.assertTrue(str(e.exception).endswith("x..."), str(e.exception))
        self.assertEqual(self.host.player[1]["bids"], 0)

    def test_a_typed_bid_is_a_bid(self):
        self.assertEqual(live(self.host, 1, {"type": "bid", "bid": 0, "seq": 3}), {1: {"type": "rejected", "max_bid": 0, "bid": 0, "seq": 3}})

    def test_bots_start_from_what_the_group_holds(self):
        live(self.host, 2, 50)
        self.host.bots("Bid", "a")
        self.assertEqual(self.host.group["max_bid"], 70)

    def test_an_unknown_bot_case_fails_the_run(self):
        with self.assertRaises(ValueError):
            self.host.bots("Bid", "c")

    def test_vars_for_template(self):
        self.assertEqual(self.host.vars("Results", 1), {"max_bid": 0, "highest_bidder": 0, "is_winner": False})
        live(self.host, 3, 4)
        self.assertEqual(self.host.vars("Results", 3), {"max_bid": 4, "highest_bidder": 3, "is_winner": True})
        self.assertIsNone(self.host.error_message("Bid", 1))


class BargainingPython(unittest.TestCase):
    def setUp(self):
        self.host = FakeHost(BARGAINING)

    def test_bots_pass(self):
        self.host.bots("Bargain")
        self.assertEqual(self.host.group, {"deal_price": 70, "done": True})
        self.assertEqual(self.host.player[1], {"payoff": 0, "offer": 50, "accepted": True})

    def test_an_offer_goes_to_the_other_player_only(self):
        self.assertEqual(
            live(self.host, 2, {"type": "offer", "amount": 30}, "Bargain"),
            {1: {"type": "offer", "from": 2, "amount": 30}},
        )

    def test_accepting_needs_an_offer_and_closes_the_deal(self):
        with self.assertRaises(LiveError):
            live(self.host, 1, {"type": "accept"}, "Bargain")
        live(self.host, 1, {"type": "offer", "amount": 0}, "Bargain")
        self.assertEqual(live(self.host, 2, {"type": "accept"}, "Bargain"), {0: {"type": "deal", "price": 0}})
        with self.assertRaises(LiveError) as e:
            live(self.host, 1, {"type": "offer", "amount": 5}, "Bargain")
        self.assertIn("already done", str(e.exception))
        self.assertEqual(self.host.vars("Results", 1)["deal_price"], 0)
        self.assertTrue(self.host.vars("Results", 2)["has_partner_offer"])


class OtreeShape(unittest.TestCase):
    """oTree 5's shape over contract 0.2: a public goods study through every hook."""

    def setUp(self):
        self.host = FakeHost(OTREE)
        self.host.create_session()

    def play_round(self, contributions):
        for i, c in enumerate(contributions, 1):
            self.assertIsNone(self.host.submit("Contribute", i, {"contribution": c}))
        self.host.arrive("ResultsWait")

    def test_creating_session_writes_the_session_participants_and_every_rounds_groups(self):
        self.assertEqual(self.host.session, {"seed": 42})
        self.assertEqual([p["color"] for p in self.host.participant.values()], ["red", "green", "blue"])
        self.assertEqual([self.host.created[r][0]["chat"] for r in (1, 2, 3)], [["round 1"], ["round 2"], ["round 3"]])

    def test_a_payoff_round_with_the_config_multiplier_then_earlier_rounds(self):
        self.play_round([10, 20, 30])
        self.assertEqual(self.host.group["total"], 60)
        self.assertEqual([p["payoff"] for p in self.host.player.values()], [130.0, 120.0, 110.0])
        self.assertEqual([p["rounds_played"] for p in self.host.participant.values()], [1, 1, 1])
        self.host.next_round()
        self.play_round([0, 0, 0])
        self.assertEqual(self.host.group["chat"], ["round 2"])  # round 2 starts from what creating wrote
        v = self.host.vars("Results", 1)
        self.assertEqual(v, {"earlier": [130.0], "earlier_totals": [60], "points": 230.0, "color": "red"})

    def test_a_treatment_changes_what_is_computed(self):
        self.host.config["multiplier"] = 2.7
        self.play_round([100, 100, 100])
        self.assertAlmostEqual(self.host.player[1]["payoff"], 270.0)

    def test_error_message_gets_typed_values_and_refuses_without_storing(self):
        self.assertEqual(self.host.submit("Contribute", 1, {"contribution": 101}), "contribution: more than you have")
        self.assertIsNone(self.host.player[1]["contribution"])
        self.assertEqual(self.host.participant[1]["rounds_played"], 0)

    def test_a_timeout_reaches_before_next_page(self):
        self.assertIsNone(self.host.submit("Contribute", 2, {}, timeout_happened=True))
        self.assertEqual(self.host.player[2]["contribution"], 0)

    def test_a_failing_hook_writes_nothing(self):
        # after_all_players_arrive with a contribution missing: None + int raises, and the
        # payoffs of the players before it are rolled back.
        self.host.submit("Contribute", 1, {"contribution": 5})
        with self.assertRaises(TypeError):
            self.host.arrive("ResultsWait")
        self.assertEqual((self.host.group["total"], self.host.player[1]["payoff"]), (0, 0))

    def test_is_displayed_and_timeouts_per_page(self):
        self.assertTrue(self.host.is_displayed("Intro", 1))
        self.assertTrue(self.host.is_displayed("Results", 1))  # no hook: shown
        self.assertIsNone(self.host.timeout("Contribute", 1))
        self.host.next_round()
        self.assertFalse(self.host.is_displayed("Intro", 1))
        self.assertEqual(self.host.timeout("Contribute", 1), 30.0)

    def test_bot_submissions_with_must_fail_and_the_default(self):
        self.assertEqual(self.host.submissions("Contribute", 2), [({"contribution": 101}, True), ({"contribution": 20}, False)])
        self.assertEqual(self.host.submissions("Results", 2), [({}, False)])
        self.assertEqual(_exports.bot_submissions(game(), self.host.ctx("X"), self.host, 1, None), [("{}", False)])

    def test_live_method_in_otree_shape(self):
        self.assertEqual(live(self.host, 3, "hi", page="Contribute"), {0: {"from": 3, "text": "hi"}})
        self.assertEqual(self.host.group["chat"], ["round 1", "blue: hi"])

    def test_writes_are_refused_where_the_contract_refuses_them(self):
        self.host.writable = True
        with self.assertRaises(FieldError) as e:
            Group(self.host.ctx("Results"), self.host).session.seed = 1
        self.assertTrue(str(e.exception).startswith("session.seed: "), str(e.exception))
        self.host.next_round()
        player = Group(self.host.ctx("Results"), self.host).get_player_by_id(1)
        with self.assertRaises(FieldError) as e:
            player.in_round(1).payoff = 3
        self.assertEqual(str(e.exception), "player(1).in_round(1).payoff: earlier rounds are read-only")
        self.assertIs(player.in_round(2), player)
        for bad in (0, 3, True):
            with self.subTest(round=bad), self.assertRaises(ValueError):
                player.in_round(bad)


class Shapes(unittest.TestCase):
    def setUp(self):
        self.host = FakeHost(AUCTION)
        self.ctx = self.host.ctx("Bid")

    def test_the_shape_is_told_by_positional_parameters(self):
        seen = []
        otree = game(live_method=lambda player, data: seen.append(("otree", player.id_in_group, data)))
        seed = game(live_method=lambda group, id_in_group, payload: seen.append(("seed", id_in_group, payload)))
        with_default = game(live_method=lambda player, data, extra=None: seen.append(("otree", player.id_in_group, data)))
        for app in (otree, seed, with_default):
            self.host.writable = True
            _exports.live_method(app, self.ctx, self.host, 2, "7")
        self.assertEqual(seen, [("otree", 2, 7), ("seed", 2, 7), ("otree", 2, 7)])
        with self.assertRaises(TypeError) as e:
            _exports.live_method(game(live_method=lambda a: None), self.ctx, self.host, 1, "1")
        self.assertEqual(str(e.exception), "live_method must take 2 parameters (oTree's shape) or 3 (the 0.1 shape), not 1")

    def test_vars_and_error_message_in_both_shapes(self):
        otree = game(vars_for_template=lambda p: {"id": p.id_in_group}, error_message=lambda p, v: f"{p.id_in_group}{v}")
        seed = game(vars_for_template=lambda g, i: {"id": i}, error_message=lambda g, i, v: f"{i}{v}")
        for app in (otree, seed):
            self.assertEqual(_exports.vars_for_template(app, self.ctx, self.host, 3), '{"id":3}')
            self.assertEqual(_exports.error_message(app, self.ctx, self.host, 3, "[1]"), "3[1]")

    def test_a_page_class_hook_wins_on_its_page_and_a_string_names_a_function(self):
        app = game(
            Bid=type("Bid", (), {"vars_for_template": staticmethod(lambda p: {"from": "Bid"}), "live_method": "live_bid"}),
            vars_for_template=lambda p: {"from": "module"},
            live_bid=lambda player, data: {0: data},
        )
        self.assertEqual(_exports.vars_for_template(app, self.ctx, self.host, 1), '{"from":"Bid"}')
        self.assertEqual(_exports.vars_for_template(app, self.host.ctx("Results"), self.host, 1), '{"from":"module"}')
        self.host.writable = True
        self.assertEqual(_exports.live_method(app, self.ctx, self.host, 1, "5"), [(0, "5")])

    def test_session_is_its_code_to_0_1_games_and_an_object_to_otree_ones(self):
        session = Group(self.ctx, self.host).session
        self.assertIsInstance(session, Session)
        self.assertEqual((session, str(session), session.code), ("s1", "s1", "s1"))
        self.assertEqual(f"{session}", "s1")
        self.assertEqual(session.config, {})
        self.assertEqual(session.num_rounds, 1)

    def test_bad_hook_results_are_type_errors(self):
        for bad in (5, [5], [Submission(5)]):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                _exports.bot_submissions(game(bot_submissions=lambda p, c, b=bad: b), self.ctx, self.host, 1, None)
        for bad in (-1, float("inf"), "10", True):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                _exports.get_timeout_seconds(game(get_timeout_seconds=lambda p, b=bad: b), self.ctx, self.host, 1)
        self.assertEqual(SubmissionMustFail({"a": 1}), Submission({"a": 1}, must_fail=True))

    def test_creating_session_groups_address_players_by_position(self):
        host = FakeHost(OTREE)
        seen = []

        def creating_session(subsession):
            for g in subsession.get_groups():
                seen.append([(p.id_in_group, p._id) for p in g.get_players()])
                with self.assertRaises(FieldError):
                    g.total  # written, not read, in creating_session
            seen.append([p.id_in_group for p in subsession.get_players()])

        host.app = game(creating_session=creating_session)
        host.create_session()
        self.assertEqual(seen[:2], [[(1, 1), (2, 2), (3, 3)], [1, 2, 3]])


if __name__ == "__main__":
    unittest.main()
