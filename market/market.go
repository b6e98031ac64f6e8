// Package market is the ground floor of the project: the vocabulary every
// layer above speaks about a futures market, with no I/O and no imports of
// the project's own. The plan parser, the policy, the pure gate and the
// venues all use it, so none of them has to import another for a word.
//
// What lives here: an order's Side and OrderType, the shape of a symbol,
// and the client order id a venue knows a plan by (derived from the plan
// id, within Binance's rule for client ids).
package market

import (
	"crypto/sha256"
	"encoding/hex"
)

// Side is BUY or SELL.
type Side string

// Order sides.
const (
	Buy  Side = "BUY"
	Sell Side = "SELL"
)

// Opposite returns the other side.
func (s Side) Opposite() Side {
	if s == Buy {
		return Sell
	}
	return Buy
}

// OrderType is MARKET or LIMIT.
type OrderType string

// Order types.
const (
	Market OrderType = "MARKET"
	Limit  OrderType = "LIMIT"
)

// ValidSymbol reports whether s has the shape of a futures symbol,
// ^[A-Z0-9]{2,20}$. It is the one symbol check of the project (the policy,
// the plan parser and the paper venue use it), written without regexp since
// it runs for every plan.
func ValidSymbol(s string) bool {
	if len(s) < 2 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ValidClientOrderID reports whether s matches Binance's client order id
// rule ^[\.A-Z\:/a-z0-9_-]{1,36}$.
func ValidClientOrderID(s string) bool {
	if len(s) < 1 || len(s) > 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '.' || c == ':' || c == '/' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// ClientOrderIDPrefix starts every client order id this project derives, so
// a venue's order list can be searched for ours.
const ClientOrderIDPrefix = "qt-"

// ClientOrderID derives the venue's client order id from a plan id: "qt-"
// and 32 hex digits of its SHA-256, within Binance's ^[\.A-Z\:/a-z0-9_-]{1,36}$.
// The same plan id always gives the same client order id, which is what
// makes a retried order recognisable at the venue.
func ClientOrderID(planID string) string {
	sum := sha256.Sum256([]byte(planID))
	return ClientOrderIDPrefix + hex.EncodeToString(sum[:16])
}
