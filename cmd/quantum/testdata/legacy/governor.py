"""The governor's result monitor (microservices/governor/main.py, the loop
around lines 1964-1965), reproduced: a consumer group on apply.result; a
result frees a position slot when executed and reduceOnly are "true"
(case-insensitive). Prints one JSON line per result: plan_id, released."""
import json
import sys

import redis

sock, stream = sys.argv[1], sys.argv[2]
r = redis.Redis(unix_socket_path=sock, decode_responses=True)
group = "governor_result_monitor"
try:
    # The governor creates its group at '$'; the harness reads what the
    # test produced, so from the beginning.
    r.xgroup_create(stream, group, id="0", mkstream=True)
except Exception as e:  # BUSYGROUP
    if "BUSYGROUP" not in str(e):
        raise
while True:
    messages = r.xreadgroup(groupname=group, consumername="gov-1", streams={stream: ">"}, count=10, block=200)
    if not messages:
        break
    for _stream, stream_messages in messages:
        for message_id, data in stream_messages:
            executed = data.get("executed", "").lower() == "true"
            reduce_only = data.get("reduceOnly", "").lower() == "true"
            print(json.dumps({"plan_id": data.get("plan_id", ""), "released": executed and reduce_only}))
            r.xack(stream, group, message_id)
