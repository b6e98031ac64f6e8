"""The exit owner's close (the one service holding the exitbrain_v3_5 key):
a reduce-only plan for the whole position or part of it. Closes that used to
come from intent_bridge (FULL_CLOSE_PROPOSED), harvest_brain and harvest
proposals are routed here and re-sent signed (docs/migration.md, exit path).

    QUANTUM_KEY_FILE=/etc/quantum/producers/exitbrain_v3_5.key REDIS_URL=... \\
        python3 examples/exit_owner.py BTCUSDT SELL 0.015 FULL_CLOSE_PROPOSED
"""
import os
import sys

import redis

from quantum_producer import Producer, Signer, format_qty

symbol, side, qty = sys.argv[1], sys.argv[2], sys.argv[3]
action = sys.argv[4] if len(sys.argv) > 4 else "FULL_CLOSE_PROPOSED"
p = Producer(redis.Redis.from_url(os.environ["REDIS_URL"]), Signer.from_key_file(os.environ["QUANTUM_KEY_FILE"]),
             os.environ.get("QUANTUM_PREFIX", "quantum"))
plan_id = p.send(symbol, side, format_qty(qty), reduce_only=True, action=action)
r = p.await_result(plan_id, timeout=10)
print(r.decision, r.reason or "", "filled", r.filled_qty, r.order_status)
sys.exit(0 if r.executed else 1)
