"""Sign, send and await plans (the Go side is package producer)."""

import hashlib
import hmac
import os
import stat
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, Inexact, InvalidOperation, Rounded, localcontext
from typing import Dict, Optional, Union

ENCODINGS = ("v1", "v2")


def canonical(fields: Dict[str, str], encoding: str = "v2") -> bytes:
    """The bytes a plan's sig covers: every field but sig, in byte order of
    the names. v1: <name>=<len>:<value> records; v2 prefixes the name's
    length too (docs/producers.md, "Signing")."""
    if encoding not in ENCODINGS:
        raise ValueError("encoding %r: want v1 or v2" % encoding)
    out = b"quantum-plan/%s\n" % encoding.encode()
    for k in sorted(fields, key=lambda s: s.encode()):
        if k == "sig":
            continue
        n, v = k.encode(), fields[k].encode()
        if encoding == "v2":
            out += b"%d:%s=%d:%s\n" % (len(n), n, len(v), v)
        else:
            out += b"%s=%d:%s\n" % (n, len(v), v)
    return out


def load_key_file(path: str):
    """Reads a "SOURCE SECRET_HEX" key line from a file only its owner can
    read (mode 0600); never prints the secret."""
    st = os.stat(path)
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError("%s has mode %04o: group and others must have no access (chmod 600)" % (path, stat.S_IMODE(st.st_mode)))
    lines = [l for l in _read(path).splitlines() if l.strip() and not l.startswith("#")]
    if len(lines) != 1 or len(lines[0].split()) != 2:
        raise ValueError("%s: want exactly one SOURCE SECRET line" % path)
    source, secret_hex = lines[0].split()
    bytes.fromhex(secret_hex)
    return source, secret_hex


@dataclass
class Signer:
    """Signs plans as one source with that source's own secret."""

    source: str
    secret_hex: str = field(repr=False)
    encoding: str = "v2"

    @classmethod
    def from_key_file(cls, path: str, encoding: str = "v2") -> "Signer":
        source, secret_hex = load_key_file(path)
        return cls(source, secret_hex, encoding)

    def sign(self, fields: Dict[str, str]) -> Dict[str, str]:
        """A copy of fields with source set to the signer's and sig added."""
        out = {k: v for k, v in fields.items() if k != "sig"}
        out["source"] = self.source
        for k, v in out.items():
            if not isinstance(v, str):
                raise TypeError("field %s is %s: every value is sent, and signed, as text" % (k, type(v).__name__))
        mac = hmac.new(bytes.fromhex(self.secret_hex), canonical(out, self.encoding), hashlib.sha256).hexdigest()
        out["sig"] = "v2:" + mac if self.encoding == "v2" else mac
        return out


def format_qty(x: Union[float, int, str, Decimal], step: Union[str, Decimal] = "0.00000001") -> str:
    """The decimal text of a quantity, rounded DOWN to step (never up), with
    no exponent: format_qty(100*10/65000, "0.001") == "0.015",
    format_qty(1e-05) == "0.00001". A float is read as its shortest repr
    (what str() shows), not its binary expansion. The arithmetic is exact
    whatever the number of digits (a context of enough precision, and any
    rounding trapped), so "14.99999999999999999999999999999" at step 1 is
    "14", never "15". Raises ValueError for a quantity that rounds to zero
    or is not a positive finite number."""
    try:
        d = Decimal(repr(x)) if isinstance(x, float) else Decimal(str(x))
        s = Decimal(str(step))
    except InvalidOperation:
        raise ValueError("quantity %r or step %r is not a number" % (x, step))
    if not d.is_finite() or not s.is_finite() or s <= 0:
        raise ValueError("quantity %r / step %r: want finite numbers and a step > 0" % (x, step))
    with localcontext() as ctx:
        # Enough digits for d // s and its product with s, exactly; a
        # rounding that should not happen raises instead of rounding up.
        ctx.prec = max(28, abs(d.adjusted()) + abs(s.as_tuple().exponent) + len(s.as_tuple().digits) + 4)
        ctx.traps[Inexact] = ctx.traps[Rounded] = True
        q = (d // s) * s
        if q <= 0:
            raise ValueError("quantity %r rounds down to 0 at step %s" % (x, step))
        text = format(q.normalize(), "f")
    return text


@dataclass
class Result:
    """One result of quantum:stream:apply.result (docs/producers.md)."""

    plan_id: str
    decision: str
    executed: bool
    reason: str
    source: str
    symbol: str
    side: str
    qty: str
    requested_qty: str
    filled_qty: str
    avg_price: str
    order_status: str
    client_order_id: str
    exchange_order_id: str
    reduce_only: bool
    detail: str
    entry_id: str
    leverage: str  # the plan's leverage as sent (rounded down to a whole number), "" when it named none
    requested_leverage: str  # as the plan wrote it ("10.5")
    fields: Dict[str, str] = field(repr=False)

    @classmethod
    def parse(cls, entry_id: str, f: Dict[str, str]) -> "Result":
        g = f.get
        return cls(
            plan_id=g("plan_id", ""), decision=g("decision", ""), executed=g("executed") == "true",
            reason=g("reason", ""), source=g("source", ""), symbol=g("symbol", ""), side=g("side", ""),
            qty=g("qty", ""), requested_qty=g("requested_qty", ""), filled_qty=g("filled_qty", ""),
            avg_price=g("avg_price", ""), order_status=g("order_status", ""),
            client_order_id=g("client_order_id", ""), exchange_order_id=g("exchange_order_id", ""),
            reduce_only=g("reduceOnly") == "true", detail=g("detail", ""), entry_id=entry_id,
            leverage=g("leverage", ""), requested_leverage=g("requested_leverage", ""), fields=dict(f),
        )


class Producer:
    """Sends signed plans to <prefix>:stream:apply.plan and awaits their
    results on <prefix>:stream:apply.result by plan_id."""

    def __init__(self, redis_client, signer: Signer, prefix: str = "quantum"):
        self.r = redis_client
        self.signer = signer
        self.plans = prefix + ":stream:apply.plan"
        self.results = prefix + ":stream:apply.result"
        self._cursors: Dict[str, str] = {}

    def cursor(self) -> str:
        """The newest result id now: results of plans sent later come after
        it (plan entry ids are never taken as a clock)."""
        last = self.r.xrevrange(self.results, count=1)
        return _text(last[0][0]) if last else "0-0"

    def send(self, symbol: str, side: str, qty: str, *, reduce_only: bool = False, order_type: str = "MARKET",
             price: Optional[str] = None, leverage: Optional[int] = None, action: str = "", decision: str = "EXECUTE",
             plan_id: Optional[str] = None, extra: Optional[Dict[str, str]] = None) -> str:
        """Signs and sends one plan; returns its plan_id. qty must be text
        (format_qty); leverage a whole number."""
        if not isinstance(qty, str):
            raise TypeError("qty must be text: use format_qty(x, step)")
        plan_id = plan_id or str(uuid.uuid4())
        f = {"plan_id": plan_id, "decision": decision, "symbol": symbol, "side": side.upper(), "type": order_type,
             "qty": qty, "reduceOnly": "true" if reduce_only else "false", "timestamp": str(int(time.time()))}
        if action:
            f["action"] = action
        if price is not None:
            f["price"] = price
        if leverage is not None:
            if int(leverage) != leverage or leverage < 1:
                raise ValueError("leverage %r: want a whole number >= 1" % leverage)
            f["leverage"] = str(int(leverage))
        f.update(extra or {})
        self._cursors[plan_id] = self.cursor()
        self.r.xadd(self.plans, self.signer.sign(f))
        return plan_id

    def await_result(self, plan_id: str, timeout: float = 10.0, cursor: Optional[str] = None) -> Result:
        """Waits for plan_id's result; raises TimeoutError."""
        last = cursor or self._cursors.pop(plan_id, "0-0")
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no result for plan %s within %ss" % (plan_id, timeout))
            got = self.r.xread({self.results: last}, count=100, block=max(1, int(min(left, 1.0) * 1000)))
            for _stream, entries in got or []:
                for entry_id, f in entries:
                    last = _text(entry_id)
                    fields = {_text(k): _text(v) for k, v in f.items()}
                    if fields.get("plan_id") == plan_id:
                        return Result.parse(last, fields)


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()
