"""decision_intelligence's _normalize_decision and _normalize_reason
(microservices/decision_intelligence/main.py:119-191), reproduced. Prints
one JSON line per result: plan_id, decision, reason."""
import json
import sys

import redis


def normalize_reason(data):
    if "error" in data and data["error"]:
        return str(data["error"]).strip()
    if "details" in data:
        try:
            details = json.loads(data["details"])
            if "error" in details and details["error"]:
                return str(details["error"]).strip()
        except (json.JSONDecodeError, TypeError):
            pass
    if "reason" in data and data["reason"]:
        return str(data["reason"]).strip()
    return "none"


def normalize_decision(data):
    if "decision" in data:
        raw = str(data["decision"]).strip().upper()
        if raw in ["EXECUTE", "EXECUTED", "EXEC"]:
            return "EXECUTE"
        elif raw in ["SKIP", "SKIPPED"]:
            return "SKIP"
        elif raw in ["BLOCKED", "BLOCK"]:
            return "BLOCKED"
        elif raw in ["ERROR", "FAILED", "FAIL"]:
            return "ERROR"
        return "UNKNOWN:" + raw
    executed = data.get("executed", "")
    if executed == "true" or executed is True:
        return "EXECUTE"
    elif executed == "false" or executed is False:
        return "SKIP" if normalize_reason(data) in ["none", ""] else "BLOCKED"
    return "UNKNOWN"


sock, stream = sys.argv[1], sys.argv[2]
r = redis.Redis(unix_socket_path=sock, decode_responses=True)
for _id, data in r.xrange(stream, "-", "+"):
    print(json.dumps({"plan_id": data.get("plan_id", ""), "decision": normalize_decision(data), "reason": normalize_reason(data)}))
