package plan

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/quantumtrader/quantum/reason"
)

// This file owns the wire format of quantum:stream:apply.result: one entry
// per plan, written by the apply layer, read by producers, the exit-owner
// watch, status, the proofs and the legacy Python readers (LEGACY.md). The
// field names are spelled here and nowhere else; Fields gives them in SPEC
// order (the SPEC fields, then ours), and a golden file fixes that order.

// Outcome is a result's decision.
type Outcome string

// Result decisions (SPEC.md).
const (
	Executed Outcome = "EXECUTED"
	Denied   Outcome = "DENIED"
	Skipped  Outcome = "SKIPPED"
	Failed   Outcome = "FAILED"
)

// Outcomes lists every decision a result may carry, in SPEC order.
func Outcomes() []Outcome { return []Outcome{Executed, Denied, Skipped, Failed} }

// Field names of a result entry (SPEC.md). Keep them exactly.
const (
	ResultPlanID          = "plan_id"
	ResultSource          = "source"
	ResultSymbol          = "symbol"
	ResultDecision        = "decision"
	ResultExecuted        = "executed"
	ResultReason          = "reason"
	ResultError           = "error" // the reason again, for the old readers
	ResultPolicyVersion   = "policy_version"
	ResultPolicySeq       = "policy_seq"
	ResultPolicyHash      = "policy_hash"
	ResultClientOrderID   = "client_order_id"
	ResultExchangeOrderID = "exchange_order_id"
	ResultFilledQty       = "filled_qty"
	ResultAvgPrice        = "avg_price"
	ResultCanary          = "canary"
	ResultTimestamp       = "timestamp"
	ResultPlanEntryID     = "plan_entry_id"
	ResultAction          = "action"
	ResultSide            = "side"
	ResultOrderStatus     = "order_status"
	ResultDetail          = "detail"
	ResultConsumer        = "consumer"
	// For the legacy readers (LEGACY.md): the governor frees a slot and
	// trade_history_logger sees a closure on executed and reduceOnly;
	// exit_monitor_service reads side, filled_qty or qty and order_status
	// from the details JSON.
	ResultReduceOnly   = "reduceOnly"
	ResultQty          = "qty"           // the quantity sent to the venue (rounded down to its step)
	ResultRequestedQty = "requested_qty" // the quantity the plan asked for, as written
	ResultDetails      = "details"       // JSON: ResultDetailsJSON
	// The plan's leverage as sent (rounded down to a whole number: Binance's
	// leverage is an integer) and as the plan wrote it ("10.5"); both
	// empty when the plan names none (the policy's applies). See qty.go.
	ResultLeverage          = "leverage"
	ResultRequestedLeverage = "requested_leverage"
)

// Result is one entry of the result stream.
type Result struct {
	PlanID            string
	Source            string
	Symbol            string
	Decision          Outcome
	Executed          bool
	Reason            reason.Code // empty when executed
	Error             reason.Code // as read: the legacy copy of Reason
	PolicyVersion     string
	PolicySeq         string // decimal, empty when no policy was in use
	PolicyHash        string
	ClientOrderID     string
	ExchangeOrderID   string
	FilledQty         string // decimal; "0" unless executed
	AvgPrice          string // decimal; "0" unless executed
	Canary            bool
	Timestamp         int64 // unix seconds
	PlanEntryID       string
	Action            string
	Side              string
	OrderStatus       string
	Detail            string
	Consumer          string
	MAC               string // result_mac: the apply layer's authentication (resultmac.go); "" when unsigned
	ReduceOnly        bool
	Qty               string // sent to the venue; the plan's quantity when nothing was sent
	RequestedQty      string // as the plan wrote it
	Leverage          string // the plan's leverage, rounded down to a whole number; "" when it names none
	RequestedLeverage string // as the plan wrote it
}

// Details is the JSON object of the details field, as the old
// intent_executor wrote it for exit_monitor_service: derived from the
// result's own fields, never set apart from them.
type Details struct {
	Side            string `json:"side"`
	Qty             string `json:"qty"`
	FilledQty       string `json:"filled_qty"`
	OrderStatus     string `json:"order_status"`
	ExchangeOrderID string `json:"exchange_order_id"`
}

// DetailsJSON returns the details field's text.
func (r Result) DetailsJSON() string {
	b, _ := json.Marshal(Details{Side: r.Side, Qty: r.Qty, FilledQty: r.FilledQty, OrderStatus: r.OrderStatus, ExchangeOrderID: r.ExchangeOrderID})
	return string(b)
}

// Fields returns the entry's field/value pairs in SPEC order, ready for an
// XADD. The legacy `error` field always repeats Reason.
func (r Result) Fields() []string {
	return []string{
		ResultPlanID, r.PlanID, ResultSource, r.Source, ResultSymbol, r.Symbol,
		ResultDecision, string(r.Decision), ResultExecuted, strconv.FormatBool(r.Executed),
		ResultReason, string(r.Reason), ResultError, string(r.Reason),
		ResultPolicyVersion, r.PolicyVersion, ResultPolicySeq, r.PolicySeq, ResultPolicyHash, r.PolicyHash,
		ResultClientOrderID, r.ClientOrderID, ResultExchangeOrderID, r.ExchangeOrderID,
		ResultFilledQty, r.FilledQty, ResultAvgPrice, r.AvgPrice, ResultCanary, strconv.FormatBool(r.Canary),
		ResultTimestamp, strconv.FormatInt(r.Timestamp, 10),
		ResultPlanEntryID, r.PlanEntryID, ResultAction, r.Action, ResultSide, r.Side,
		ResultOrderStatus, r.OrderStatus, ResultDetail, r.Detail, ResultConsumer, r.Consumer,
		ResultReduceOnly, strconv.FormatBool(r.ReduceOnly), ResultQty, r.Qty, ResultRequestedQty, r.RequestedQty,
		ResultDetails, r.DetailsJSON(), ResultLeverage, r.Leverage, ResultRequestedLeverage, r.RequestedLeverage,
	}
}

// SignedFields is Fields with result_mac under key appended (Fields alone
// when key is nil: unsigned).
func (r Result) SignedFields(key []byte) []string {
	f := r.Fields()
	if key == nil {
		return f
	}
	m := make(map[string]string, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		m[f[i]] = f[i+1]
	}
	return append(f, ResultMAC, ResultMACOf(m, key))
}

// ParseResult reads a result entry as go-redis returns it (XMessage.Values).
// It is lenient on purpose: readers must see whatever an entry says,
// including a hostile or malformed one, so every field is taken as text and
// nothing is refused; a field that is absent reads as its zero value.
func ParseResult(values map[string]any) Result {
	get := func(k string) string {
		switch v := values[k].(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			return fmt.Sprint(v)
		}
	}
	ts, _ := strconv.ParseInt(get(ResultTimestamp), 10, 64)
	return Result{
		PlanID: get(ResultPlanID), Source: get(ResultSource), Symbol: get(ResultSymbol),
		Decision: Outcome(get(ResultDecision)), Executed: get(ResultExecuted) == "true",
		Reason: reason.Code(get(ResultReason)), Error: reason.Code(get(ResultError)),
		PolicyVersion: get(ResultPolicyVersion), PolicySeq: get(ResultPolicySeq), PolicyHash: get(ResultPolicyHash),
		ClientOrderID: get(ResultClientOrderID), ExchangeOrderID: get(ResultExchangeOrderID),
		FilledQty: get(ResultFilledQty), AvgPrice: get(ResultAvgPrice), Canary: get(ResultCanary) == "true",
		Timestamp: ts, PlanEntryID: get(ResultPlanEntryID), Action: get(ResultAction), Side: get(ResultSide),
		OrderStatus: get(ResultOrderStatus), Detail: get(ResultDetail), Consumer: get(ResultConsumer),
		MAC:        get(ResultMAC),
		ReduceOnly: get(ResultReduceOnly) == "true", Qty: get(ResultQty), RequestedQty: get(ResultRequestedQty),
		Leverage: get(ResultLeverage), RequestedLeverage: get(ResultRequestedLeverage),
	}
}

// DeniedFor reports whether the result is a denial with code, read from
// either the reason field or the legacy error field (old writers set only
// the latter).
func (r Result) DeniedFor(code reason.Code) bool { return r.Reason == code || r.Error == code }

// Passed reports whether the plan passed every gate: executed, or skipped
// as a canary or a producer's SKIP/BLOCKED.
func (r Result) Passed() bool { return r.Decision == Executed || r.Decision == Skipped }

// Map returns the entry as a map of its fields, for printing.
func (r Result) Map() map[string]string {
	f := r.Fields()
	m := make(map[string]string, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		m[f[i]] = f[i+1]
	}
	return m
}
