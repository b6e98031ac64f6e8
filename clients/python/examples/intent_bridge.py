"""intent_bridge's XADD, on quantum_producer: the same plan, signed, with its
quantity rounded down to the symbol's step; the result awaited by plan_id.

    QUANTUM_KEY_FILE=/etc/quantum/producers/intent_bridge.key REDIS_URL=redis://quantum-intent-bridge:...@127.0.0.1:6379/0 \\
        python3 examples/intent_bridge.py BTCUSDT BUY 100 10 65000
"""
import os
import sys

import redis

from quantum_producer import Producer, Signer, format_qty

STEPS = {"BTCUSDT": "0.001", "ETHUSDT": "0.001", "SOLUSDT": "1"}  # exchangeInfo LOT_SIZE stepSize

symbol, side, usd, lev, price = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
p = Producer(redis.Redis.from_url(os.environ["REDIS_URL"]), Signer.from_key_file(os.environ["QUANTUM_KEY_FILE"]),
             os.environ.get("QUANTUM_PREFIX", "quantum"))
plan_id = p.send(symbol, side, format_qty(usd * lev / price, STEPS.get(symbol, "0.001")),
                 leverage=int(lev), action="ENTRY_PROPOSED")
r = p.await_result(plan_id, timeout=10)
print(r.decision, r.reason or "", "qty", r.qty, "filled", r.filled_qty)
sys.exit(0 if r.executed else 1)
