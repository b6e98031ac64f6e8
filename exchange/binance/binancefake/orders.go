package binancefake

// Orders: placing, filling, querying.

import (
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var clientOrderIDRe = regexp.MustCompile(`^[\.A-Z\:/a-z0-9_-]{1,36}$`)

func rat(s string) (*big.Rat, bool) {
	if s == "" || strings.ContainsAny(s, "/+-eE ") {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

func dec(r *big.Rat) string {
	s := r.FloatString(8)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

func (f *Fake) newOrder(p url.Values) (any, *venueError) {
	for _, k := range []string{"symbol", "side", "type"} {
		if p.Get(k) == "" {
			return nil, bad(-1102, "Mandatory parameter '%s' was not sent, was empty/null, or malformed.", k)
		}
	}
	s, ok := f.symbols[p.Get("symbol")]
	if !ok {
		return nil, bad(-1121, "Invalid symbol.")
	}
	side, typ := p.Get("side"), p.Get("type")
	if side != "BUY" && side != "SELL" {
		return nil, bad(-1117, "Invalid side.")
	}
	if p.Get("closePosition") == "true" && p.Has("reduceOnly") {
		return nil, bad(-1106, "Parameter 'reduceOnly' sent when not required.")
	}
	if p.Get("closePosition") == "true" && p.Has("quantity") {
		return nil, bad(-1106, "Parameter 'quantity' sent when not required.")
	}
	switch typ {
	case "MARKET", "LIMIT":
	case "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET":
		return nil, bad(-4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
	default:
		return nil, bad(-1116, "Invalid orderType.")
	}
	if p.Has("closePosition") {
		return nil, bad(-1106, "Parameter 'closePosition' sent when not required.")
	}
	ps := p.Get("positionSide")
	if f.dual {
		if p.Has("reduceOnly") {
			return nil, bad(-1106, "Parameter 'reduceOnly' sent when not required.")
		}
		if ps != "LONG" && ps != "SHORT" {
			return nil, bad(-4061, "Order's position side does not match user's setting.")
		}
	} else if ps != "" && ps != "BOTH" {
		return nil, bad(-4061, "Order's position side does not match user's setting.")
	}
	reduce := false
	switch p.Get("reduceOnly") {
	case "", "false":
	case "true":
		reduce = true
	default:
		return nil, bad(-1102, "Parameter 'reduceOnly' is malformed.")
	}
	coid := p.Get("newClientOrderId")
	if coid == "" {
		f.seq++
		coid = "fake-" + strconv.FormatInt(f.seq, 10)
	}
	if !clientOrderIDRe.MatchString(coid) {
		return nil, bad(-4015, "Client order id is not valid.")
	}
	for _, o := range f.orders {
		if o.ClientOrderID == coid && (o.Status == "NEW" || o.Status == "PARTIALLY_FILLED") {
			return nil, bad(-4116, "ClientOrderId is duplicated.")
		}
	}
	qty, ok := rat(p.Get("quantity"))
	if !ok {
		return nil, bad(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
	}
	if qty.Sign() <= 0 {
		return nil, bad(-4003, "Quantity less than zero.")
	}
	// LOT_SIZE, or MARKET_LOT_SIZE for a MARKET order unless its step is 0.
	stepText := s.Step
	if m, _ := rat(s.MarketStep); typ == "MARKET" && m != nil && m.Sign() > 0 {
		stepText = s.MarketStep
	}
	step, _ := rat(stepText)
	minQ, _ := rat(s.MinQty)
	if decimals(p.Get("quantity")) > max(decimals(stepText), decimals(s.MinQty)) { // quantityPrecision
		return nil, bad(-1111, "Precision is over the maximum defined for this asset.")
	}
	if qty.Cmp(minQ) < 0 {
		return nil, bad(-4004, "Quantity less than min quantity.")
	}
	if maxQ, _ := rat(s.MaxQty); qty.Cmp(maxQ) > 0 {
		return nil, bad(-4005, "Quantity greater than max quantity.")
	}
	// The docs: (quantity - minQty) % stepSize == 0.
	if !new(big.Rat).Quo(new(big.Rat).Sub(qty, minQ), step).IsInt() {
		return nil, bad(-4023, "Qty not increased by step size.")
	}
	mark, ok := rat(s.Mark)
	if !ok {
		return nil, bad(-1121, "Invalid symbol.")
	}
	price := new(big.Rat)
	if typ == "LIMIT" {
		if p.Get("timeInForce") == "" {
			return nil, bad(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
		}
		if price, ok = rat(p.Get("price")); !ok || price.Sign() <= 0 {
			return nil, bad(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
		}
		minP, _ := rat(s.MinPrice)
		if price.Cmp(minP) < 0 {
			return nil, bad(-4013, "Price less than min price.")
		}
		if maxP, _ := rat(s.MaxPrice); price.Cmp(maxP) > 0 {
			return nil, bad(-4002, "Price greater than max price.")
		}
		// The docs: (price - minPrice) % tickSize == 0.
		if tick, _ := rat(s.Tick); !new(big.Rat).Quo(new(big.Rat).Sub(price, minP), tick).IsInt() {
			return nil, bad(-4014, "Price not increased by tick size.")
		}
		up, _ := rat(s.Up)
		down, _ := rat(s.Down)
		if hi := new(big.Rat).Mul(mark, up); side == "BUY" && price.Cmp(hi) > 0 {
			return nil, bad(-4016, "Limit price can't be higher than %s.", dec(hi))
		}
		if lo := new(big.Rat).Mul(mark, down); side == "SELL" && price.Cmp(lo) < 0 {
			return nil, bad(-4024, "Limit price can't be lower than %s.", dec(lo))
		}
	} else if p.Has("price") || p.Has("timeInForce") {
		return nil, bad(-1106, "Parameter 'price' sent when not required.")
	}
	notionalPrice := mark
	if typ == "LIMIT" {
		notionalPrice = price
	}
	if minN, _ := rat(s.MinNotional); !reduce && new(big.Rat).Mul(qty, notionalPrice).Cmp(minN) < 0 {
		return nil, bad(-4164, "Order's notional must be no smaller than %s (unless you choose reduce only).", s.MinNotional)
	}
	pos := f.pos(s.Name)
	signed := new(big.Rat).Set(qty)
	if side == "SELL" {
		signed.Neg(signed)
	}
	if reduce && (pos.Sign() == 0 || pos.Sign() == signed.Sign()) {
		return nil, bad(-2022, "ReduceOnly Order is rejected.")
	}
	respType := p.Get("newOrderRespType")
	if respType != "" && respType != "ACK" && respType != "RESULT" {
		return nil, bad(-1136, "Invalid newOrderRespType.")
	}
	f.seq++
	now := f.now().UnixMilli()
	o := &Order{OrderID: 1000 + f.seq, ClientOrderID: coid, Symbol: s.Name, Side: side, Type: typ,
		Status: "NEW", OrigQty: dec(qty), ExecutedQty: "0", Price: dec(price), AvgPrice: "0", ReduceOnly: reduce,
		Time: now, UpdateTime: now}
	f.orders = append(f.orders, o)
	if typ == "MARKET" || side == "BUY" && price.Cmp(mark) >= 0 || side == "SELL" && price.Cmp(mark) <= 0 {
		f.take(o, s)
	}
	if typ == "MARKET" && o.Status != "FILLED" {
		o.Status = "EXPIRED" // the book could not fill the rest
	}
	if respType == "ACK" {
		ack := *o
		ack.Status, ack.ExecutedQty, ack.AvgPrice = "NEW", "0", "0"
		return orderJSON(&ack), nil
	}
	return orderJSON(o), nil
}

// take fills what it can of o at the mark: up to the remaining quantity,
// the symbol's liquidity and, for a reduce-only order, the position (a
// reduce-only order never flips it).
func (f *Fake) take(o *Order, s Symbol) {
	mark, _ := rat(s.Mark)
	orig, _ := rat(o.OrigQty)
	done, _ := rat(o.ExecutedQty)
	q := new(big.Rat).Sub(orig, done)
	if liq, ok := rat(s.Liquidity); ok && liq.Cmp(q) < 0 {
		q = liq
	}
	pos := f.pos(s.Name)
	if o.ReduceOnly {
		if room := new(big.Rat).Abs(pos); (o.Side == "SELL") != (pos.Sign() > 0) {
			q = new(big.Rat)
		} else if room.Cmp(q) < 0 {
			q = room
		}
	}
	if q.Sign() <= 0 {
		return
	}
	total := new(big.Rat).Add(done, q)
	avg, _ := rat(o.AvgPrice)
	// The average price over both fills.
	avg = new(big.Rat).Quo(new(big.Rat).Add(new(big.Rat).Mul(avg, done), new(big.Rat).Mul(mark, q)), total)
	o.ExecutedQty, o.AvgPrice, o.UpdateTime = dec(total), dec(avg), f.now().UnixMilli()
	o.Status = "PARTIALLY_FILLED"
	if total.Cmp(orig) == 0 || o.ReduceOnly && q.Cmp(new(big.Rat).Abs(pos)) == 0 {
		o.Status = "FILLED"
	}
	if o.Side == "SELL" {
		q.Neg(q)
	}
	f.fill(s.Name, q, mark)
}

// matchResting fills the symbol's resting LIMIT orders the mark crosses.
func (f *Fake) matchResting(s Symbol) {
	mark, ok := rat(s.Mark)
	if !ok {
		return
	}
	for _, o := range f.orders {
		if o.Symbol != s.Name || o.Type != "LIMIT" || !open(o) {
			continue
		}
		price, _ := rat(o.Price)
		if o.Side == "BUY" && price.Cmp(mark) >= 0 || o.Side == "SELL" && price.Cmp(mark) <= 0 {
			f.take(o, s)
		}
	}
}

// decimals is the number of decimal places of a decimal text.
func decimals(s string) int {
	_, frac, ok := strings.Cut(s, ".")
	if !ok {
		return 0
	}
	return len(strings.TrimRight(frac, "0"))
}

func orderJSON(o *Order) map[string]any {
	cumQuote := "0"
	if q, ok := rat(o.ExecutedQty); ok {
		if a, ok := rat(o.AvgPrice); ok {
			cumQuote = dec(new(big.Rat).Mul(q, a))
		}
	}
	return map[string]any{"orderId": o.OrderID, "clientOrderId": o.ClientOrderID, "symbol": o.Symbol,
		"side": o.Side, "positionSide": "BOTH", "type": o.Type, "origType": o.Type, "status": o.Status,
		"origQty": o.OrigQty, "executedQty": o.ExecutedQty, "cumQty": o.ExecutedQty, "cumQuote": cumQuote,
		"price": o.Price, "avgPrice": o.AvgPrice, "stopPrice": "0", "reduceOnly": o.ReduceOnly, "closePosition": false,
		"timeInForce": "GTC", "workingType": "CONTRACT_PRICE", "priceProtect": false, "priceMatch": "NONE",
		"selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": o.Time, "updateTime": o.UpdateTime}
}

// forgotten is an order Binance no longer finds: CANCELED or EXPIRED
// without a fill, created more than 3 days ago.
func (f *Fake) forgotten(o *Order) bool {
	return (o.Status == "CANCELED" || o.Status == "EXPIRED") && o.ExecutedQty == "0" &&
		f.now().UnixMilli() > o.Time+forgetAfter.Milliseconds()
}

const forgetAfter = 3 * 24 * time.Hour

func (f *Fake) queryOrder(p url.Values) (any, *venueError) {
	if p.Get("symbol") == "" {
		return nil, bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
	}
	coid, id := p.Get("origClientOrderId"), p.Get("orderId")
	if coid == "" && id == "" {
		return nil, bad(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
	}
	// The latest order with the id (a filled one's id may be used again).
	for i := len(f.orders) - 1; i >= 0; i-- {
		o := f.orders[i]
		if o.Symbol == p.Get("symbol") && (coid != "" && o.ClientOrderID == coid || id != "" && strconv.FormatInt(o.OrderID, 10) == id) && !f.forgotten(o) {
			return orderJSON(o), nil
		}
	}
	return nil, bad(-2013, "Order does not exist.")
}

// numParam reads a non-negative integer parameter, def when not sent.
func numParam(p url.Values, k string, def int64) (int64, *venueError) {
	if !p.Has(k) {
		return def, nil
	}
	n, err := strconv.ParseInt(p.Get(k), 10, 64)
	if err != nil || n < 0 {
		return 0, bad(-1102, "Parameter '%s' is malformed.", k)
	}
	return n, nil
}

// limitParam reads limit: def when not sent, 1 to 1000.
func limitParam(p url.Values, def int64) (int64, *venueError) {
	limit, verr := numParam(p, "limit", def)
	if verr == nil && (limit < 1 || limit > 1000) {
		verr = bad(-1130, "Invalid data sent for a parameter: limit.")
	}
	return limit, verr
}

// allOrders is GET /fapi/v1/allOrders: the symbol's orders from orderId
// on, or within [startTime, endTime] (at most 7 days apart), oldest first,
// at most limit (default 500, at most 1000) of them: the most recent ones
// when neither orderId nor startTime is given.
func (f *Fake) allOrders(p url.Values) (any, *venueError) {
	sym := p.Get("symbol")
	if sym == "" {
		return nil, bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
	}
	num := func(k string, def int64) (int64, *venueError) { return numParam(p, k, def) }
	limit, verr := limitParam(p, 500)
	if verr != nil {
		return nil, verr
	}
	fromID, verr := num("orderId", 0)
	if verr != nil {
		return nil, verr
	}
	now := f.now().UnixMilli()
	end, verr := num("endTime", now)
	if verr != nil {
		return nil, verr
	}
	start, verr := num("startTime", end-7*24*time.Hour.Milliseconds())
	if verr != nil {
		return nil, verr
	}
	if end-start > 7*24*time.Hour.Milliseconds() {
		return nil, bad(-1127, "Lookup interval is too big.")
	}
	var out []map[string]any
	for _, o := range f.orders {
		if o.Symbol != sym || o.OrderID < fromID || f.forgotten(o) || (fromID == 0 && (o.Time < start || o.Time > end)) {
			continue
		}
		out = append(out, orderJSON(o))
	}
	if int64(len(out)) > limit {
		if p.Has("orderId") || p.Has("startTime") {
			out = out[:limit]
		} else {
			out = out[int64(len(out))-limit:]
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	return out, nil
}
