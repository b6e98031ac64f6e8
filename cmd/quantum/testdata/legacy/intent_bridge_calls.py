"""The Redis calls of the old intent_bridge (microservices/intent_bridge/
main.py) around its XADD, reproduced as one intent's round: run as its Redis
user, it prints one JSON line per call: name, ok, error. The calls it must
not make as that user (a legacy policy write, a forged result, deleting the
policy) are tried last and must fail."""
import json
import sys
import time

import redis

url = sys.argv[1]
r = redis.Redis.from_url(url, decode_responses=False)
INTENT_STREAM = "quantum:stream:trade.intent"
GROUP = "quantum:group:intent_bridge"
plan_id = "ib-%d" % int(time.time() * 1000)


def call(name, fn):
    try:
        fn()
        print(json.dumps({"call": name, "ok": True}))
    except Exception as e:  # redis.exceptions.NoPermissionError and friends
        print(json.dumps({"call": name, "ok": False, "error": str(e)}))


def create_group():
    try:
        r.xgroup_create(INTENT_STREAM, GROUP, id="0", mkstream=True)
    except redis.exceptions.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


call("ping", r.ping)
call("xgroup_create trade.intent", create_group)
call("xreadgroup trade.intent", lambda: r.xreadgroup(GROUP, "bridge-1", {INTENT_STREAM: ">"}, count=10, block=100))
call("xrevrange trade.intent", lambda: r.xrevrange(INTENT_STREAM, count=10))
call("get system:mode", lambda: r.get("quantum:system:mode"))
call("hgetall policy:current", lambda: r.hgetall("quantum:policy:current"))
call("get cfg:universe:active", lambda: r.get("quantum:cfg:universe:active"))
call("hgetall state:portfolio", lambda: r.hgetall(b"quantum:state:portfolio"))
call("hgetall ledger", lambda: r.hgetall("quantum:ledger:BTCUSDT"))
call("exists seen", lambda: r.exists("quantum:intent_bridge:seen:1-0"))
call("setex seen", lambda: r.setex("quantum:intent_bridge:seen:1-0", 86400, "1"))
call("exists last_close", lambda: r.exists("quantum:intent_bridge:last_close:BTCUSDT"))
call("ttl last_close", lambda: r.ttl("quantum:intent_bridge:last_close:BTCUSDT"))
call("xadd apply.plan", lambda: r.xadd("quantum:stream:apply.plan", {
    "plan_id": plan_id, "decision": "EXECUTE", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
    "qty": str(100 * 10 / 65000), "reduceOnly": "false", "source": "intent_bridge", "signature": "intent_bridge",
    "timestamp": str(int(time.time())), "leverage": str(float(10)), "action": "ENTRY_PROPOSED"}))
call("hset permit", lambda: r.hset("quantum:permit:p33:" + plan_id, mapping={"allow": "true", "safe_qty": "0", "reason": "intent_bridge"}))
call("expire permit", lambda: r.expire("quantum:permit:p33:" + plan_id, 86400))
call("xrevrange apply.result", lambda: r.xrevrange("quantum:stream:apply.result", count=10))
call("xack trade.intent", lambda: r.xack(INTENT_STREAM, GROUP, "0-1"))
# What it must not do as its user.
call("FORBIDDEN hset policy:current", lambda: r.hset("quantum:policy:current", mapping={"universe_symbols": "[]", "valid_until_epoch": "0"}))
call("FORBIDDEN xadd apply.result", lambda: r.xadd("quantum:stream:apply.result", {"plan_id": "forged", "executed": "true"}))
call("FORBIDDEN del policy:current", lambda: r.delete("quantum:policy:current"))
call("FORBIDDEN xgroup_create apply.plan", lambda: r.xgroup_create("quantum:stream:apply.plan", "intent_executor", id="$"))
