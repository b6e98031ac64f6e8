"""services/exit_monitor_service.py position_listener (lines 405-452),
reproduced: XREAD of apply.result, executed must be "true", then symbol,
side, filled_qty (or qty) and order_status from the details JSON; only
FILLED orders are tracked. Prints one JSON line per result: plan_id,
tracked, and what it extracted or why it skipped."""
import json
import sys

import redis

sock, stream = sys.argv[1], sys.argv[2]
r = redis.Redis(unix_socket_path=sock)
last_id = "0"
while True:
    messages = r.xread({stream: last_id}, count=10, block=200)
    if not messages:
        break
    for _stream, stream_messages in messages:
        for message_id, fields in stream_messages:
            result_data = {}
            for k, v in fields.items():
                key = k.decode() if isinstance(k, bytes) else k
                value = v.decode() if isinstance(v, bytes) else v
                result_data[key] = value
            last_id = message_id
            out = {"plan_id": result_data.get("plan_id", ""), "tracked": False}
            executed = result_data.get("executed")
            if executed != "true" and executed is not True:
                out["skip"] = "not executed"
                print(json.dumps(out))
                continue
            details_str = result_data.get("details", "{}")
            try:
                details = json.loads(details_str) if isinstance(details_str, str) else details_str
            except Exception:
                details = {}
            symbol = result_data.get("symbol") or details.get("symbol")
            side = details.get("side")
            filled_qty = details.get("filled_qty") or details.get("qty")
            order_status = details.get("order_status")
            out.update({"symbol": symbol, "side": side, "qty": filled_qty, "status": order_status})
            if not symbol or not side or not filled_qty:
                out["skip"] = "missing required fields"
            elif order_status != "FILLED":
                out["skip"] = "not FILLED"
            else:
                out["tracked"] = True
            print(json.dumps(out))
