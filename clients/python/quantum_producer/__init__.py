"""quantum_producer: what a Python service needs to produce plans for the
Quantum Trader governance core (docs/producers.md).

    from quantum_producer import Producer, Signer, format_qty
    import redis

    signer = Signer.from_key_file("/etc/quantum/producers/intent_bridge.key")
    p = Producer(redis.Redis.from_url(url), signer)
    plan_id = p.send(symbol="BTCUSDT", side="BUY", qty=format_qty(usd * lev / price, "0.001"))
    result = p.await_result(plan_id, timeout=10)
    if result.executed: ...

Only redis-py is needed (Debian: python3-redis).
"""

from .producer import (
    Producer,
    Result,
    Signer,
    canonical,
    format_qty,
    load_key_file,
)

__all__ = ["Producer", "Result", "Signer", "canonical", "format_qty", "load_key_file"]
