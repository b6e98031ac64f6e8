"""Tests of quantum_producer. The offline ones run anywhere
(python3 -m unittest discover -s tests); the live ones need a running apply
layer and are run by cmd/quantum's TestPythonProducerPackage with
QUANTUM_TEST_REDIS_URL, QUANTUM_TEST_PREFIX and QUANTUM_TEST_KEYS_DIR set
(never skipped there: that test fails when they do not pass)."""
import os
import time
import unittest
from decimal import Decimal, localcontext

import redis

from quantum_producer import Producer, Signer, canonical, format_qty, load_key_file


class Offline(unittest.TestCase):
    def test_format_qty_rounds_down_never_up(self):
        self.assertEqual(format_qty(100 * 10 / 65000, "0.001"), "0.015")
        self.assertEqual(format_qty(0.0019999999999999999, "0.001"), "0.002")  # repr(0.002): the float is 0.002
        self.assertEqual(format_qty("0.0019999999999999999", "0.001"), "0.001")
        self.assertEqual(format_qty(1e-05), "0.00001")
        self.assertEqual(format_qty(Decimal("6.666666666666667"), "0.1"), "6.6")
        self.assertEqual(format_qty(2, "1"), "2")
        self.assertEqual(format_qty(1234567.0, "1"), "1234567")
        for bad in (0.0004, -1, float("inf"), float("nan"), "abc"):
            with self.assertRaises(ValueError):
                format_qty(bad, "0.001")
        for x in (0.1 + 0.2, 1 / 3, 123.456789, 3.0000001):
            q = Decimal(format_qty(x, "0.0001"))
            self.assertLessEqual(q, Decimal(repr(x)))
            self.assertLess(Decimal(repr(x)) - q, Decimal("0.0001"))
            self.assertNotIn("e", format_qty(x, "0.0001").lower())

    def test_format_qty_exact_with_many_digits(self):
        # Decimal's default 28 digits would round these quotients up.
        self.assertEqual(format_qty("14.99999999999999999999999999999", "1"), "14")
        self.assertEqual(format_qty("0.0019999999999999999999999999999999", "0.001"), "0.001")
        self.assertEqual(format_qty("123456789012345678901234.99999999", "0.001"), "123456789012345678901234.999")
        for x in (1e-05, 1.5384615384615385e-05, 5e-324 * 2**60, 1e16, 1.2345678901234567e+22, 0.00012345678901234567):
            for step in ("0.00000001", "0.001", "1", "0.005"):
                try:
                    text = format_qty(x, step)
                except ValueError:
                    self.assertLess(Decimal(repr(x)), Decimal(step))
                    continue
                self.assertNotIn("e", text.lower())
                q = Decimal(text)
                self.assertLessEqual(q, Decimal(repr(x)))
                self.assertLess(Decimal(repr(x)) - q, Decimal(step))
                with localcontext() as ctx:
                    ctx.prec = 100
                    self.assertEqual(q % Decimal(step), 0)

    def test_v2_golden(self):
        # The worked example of docs/producers.md (plan/testdata/canonical_v2.golden): secret bytes 0..31.
        f = {"action": "FULL_CLOSE_PROPOSED", "canary": "false", "decision": "EXECUTE", "leverage": "10.0",
             "plan_id": "golden-1", "qty": "0.015384615384615385", "reduceOnly": "True", "side": "SELL",
             "source": "exitbrain_v3_5", "symbol": "BTCUSDT", "timestamp": "1780000000.25", "type": "MARKET"}
        s = Signer("exitbrain_v3_5", bytes(range(32)).hex())
        self.assertTrue(canonical(f).startswith(b"quantum-plan/v2\n6:action=19:FULL_CLOSE_PROPOSED\n"))
        self.assertEqual(s.sign(f)["sig"], "v2:3816a1b73c6cf92748831924c8a75247900348de9bd95955a4ef2df6af9ab2ea")

    def test_values_must_be_text(self):
        with self.assertRaises(TypeError):
            Signer("x", "00" * 32).sign({"qty": 0.1})

    def test_key_file_mode(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "k")
            with open(p, "w") as fh:
                fh.write("intent_bridge " + "ab" * 32 + "\n")
            os.chmod(p, 0o644)
            with self.assertRaises(PermissionError):
                load_key_file(p)
            os.chmod(p, 0o600)
            self.assertEqual(load_key_file(p)[0], "intent_bridge")


@unittest.skipUnless(os.environ.get("QUANTUM_TEST_REDIS_URL"), "live: run by cmd/quantum TestPythonProducerPackage")
class Live(unittest.TestCase):
    def setUp(self):
        self.r = redis.Redis.from_url(os.environ["QUANTUM_TEST_REDIS_URL"])
        self.prefix = os.environ["QUANTUM_TEST_PREFIX"]
        self.keys = os.environ["QUANTUM_TEST_KEYS_DIR"]
        self.encoding = os.environ.get("QUANTUM_TEST_ENCODING", "v2")

    def producer(self, source):
        return Producer(self.r, Signer.from_key_file(os.path.join(self.keys, source + ".key"), self.encoding), self.prefix)

    def test_intent_bridge_entry_with_a_float_quantity(self):
        p = self.producer("intent_bridge")
        position_usd, leverage, price = 100.0, 10.0, 65000.0
        qty = str(position_usd * leverage / price)  # what intent_bridge sends today: 16-18 decimals
        self.assertEqual(qty, "0.015384615384615385")
        plan_id = p.send("BTCUSDT", "BUY", qty, leverage=int(leverage), action="ENTRY_PROPOSED")
        r = p.await_result(plan_id, timeout=10)
        self.assertEqual((r.decision, r.executed, r.reason), ("EXECUTED", True, ""), r.fields)
        self.assertEqual((r.qty, r.requested_qty, r.filled_qty, r.order_status), ("0.015", qty, "0.015", "FILLED"))

    def test_exit_owner_close_executes(self):
        entry = self.producer("intent_bridge")
        pid = entry.send("SOLUSDT", "BUY", format_qty(2.0, "1"), action="ENTRY_PROPOSED")
        self.assertTrue(entry.await_result(pid).executed)
        owner = self.producer("exitbrain_v3_5")
        pid = owner.send("SOLUSDT", "SELL", "2", reduce_only=True, action="FULL_CLOSE_PROPOSED")
        r = owner.await_result(pid, timeout=10)
        self.assertEqual((r.decision, r.reduce_only, r.side, r.filled_qty), ("EXECUTED", True, "SELL", "2"), r.fields)

    def test_python_numbers_as_intent_bridge_writes_them(self):
        # str() of a small float is exponent notation, and float(leverage)
        # has a fraction: signed as written, they execute rounded down
        # (ETHUSDT: step 0.00001, policy 6x).
        s = Signer.from_key_file(os.path.join(self.keys, "intent_bridge.key"), self.encoding)
        p = self.producer("intent_bridge")
        qty, lev = str(0.05 / 3250), str(float(5.5))
        self.assertEqual((qty, lev), ("1.5384615384615384e-05", "5.5"))
        f = {"plan_id": "py-numbers-%d" % time.time_ns(), "decision": "EXECUTE", "symbol": "ETHUSDT", "side": "BUY",
             "type": "MARKET", "qty": qty, "leverage": lev, "reduceOnly": "False", "timestamp": str(time.time()),
             "action": "ENTRY_PROPOSED", "stop_loss": str(2999.123456789)}
        cursor = p.cursor()
        self.r.xadd(self.prefix + ":stream:apply.plan", s.sign(f))
        r = p.await_result(f["plan_id"], timeout=10, cursor=cursor)
        self.assertEqual((r.decision, r.executed, r.reason), ("EXECUTED", True, ""), r.fields)
        self.assertEqual((r.qty, r.requested_qty, r.filled_qty), ("0.00001", qty, "0.00001"))
        self.assertEqual((r.leverage, r.requested_leverage), ("5", "5.5"))

    def test_a_non_owner_close_is_denied(self):
        p = self.producer("intent_bridge")
        pid = p.send("SOLUSDT", "SELL", "1", reduce_only=True, action="FULL_CLOSE_PROPOSED")
        r = p.await_result(pid, timeout=10)
        self.assertEqual((r.decision, r.executed, r.reason), ("DENIED", False, "DENY_NOT_EXIT_OWNER"))


if __name__ == "__main__":
    unittest.main()
