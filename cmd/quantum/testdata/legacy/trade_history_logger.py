"""trade_history_logger's is_trade_closure (trade_history_logger.py:139),
reproduced on raw (bytes) replies as that service reads them. Prints one
JSON line per result: plan_id, closure."""
import json
import sys

import redis


def is_trade_closure(result):
    try:
        executed = result.get(b"executed", b"false").decode().lower() == "true"
        if not executed:
            return False
        reduce_only_str = result.get(b"reduceOnly", result.get(b"reduce_only", b"false")).decode()
        return reduce_only_str.lower() in ("true", "1", "yes")
    except Exception:
        return False


sock, stream = sys.argv[1], sys.argv[2]
r = redis.Redis(unix_socket_path=sock)
for _id, fields in r.xrange(stream, "-", "+"):
    print(json.dumps({"plan_id": fields.get(b"plan_id", b"").decode(), "closure": is_trade_closure(fields)}))
