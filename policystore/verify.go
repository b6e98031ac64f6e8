package policystore

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/quantumtrader/quantum/policy"
	"github.com/quantumtrader/quantum/reason"
)

// Verification is `quantum policy verify`'s outcome: the live policy as a
// one-shot reader loaded it (LoadChecked), or why it was refused.
type Verification struct {
	Policy      *policy.Signed // when it verified
	Err         error          // why it did not
	Now         time.Time
	Alarm       time.Duration // --expiry-alarm (0: off)
	ExpiryAlert string        // what the expiry alarm did ("" when off)
}

// Code is the refusal's reason code: POLICY_UNAVAILABLE for an error that
// carries none, "" when the policy verified.
func (v Verification) Code() reason.Code {
	if v.Err == nil {
		return ""
	}
	if code := reason.CodeOf(v.Err); code != "" {
		return code
	}
	return reason.PolicyUnavailable
}

// JSON is the outcome as policy verify --json prints it.
func (v Verification) JSON() map[string]any {
	if v.Err != nil {
		return map[string]any{"ok": false, "reason": v.Code(), "error": v.Err.Error()}
	}
	sp := v.Policy
	return map[string]any{
		"ok": true, "policy_version": sp.Version, "policy_seq": sp.Seq, "policy_hash": sp.Hash,
		"key_id": sp.KeyID, "trading_state": sp.TradingState, "valid_until_epoch": sp.ValidUntil,
		"remaining_sec": int64(sp.Remaining(v.Now) / time.Second), "expiring": v.Alarm > 0 && sp.Remaining(v.Now) < v.Alarm,
		"expiry_alert": v.ExpiryAlert,
	}
}

// WriteText writes policy verify's line: "OK policy_version=... " or the
// reason code and why.
func (v Verification) WriteText(w io.Writer) error {
	if v.Err != nil {
		code := v.Code()
		_, err := fmt.Fprintf(w, "%s %v\n", code, withoutCode(v.Err, code))
		return err
	}
	sp := v.Policy
	_, err := fmt.Fprintf(w, "OK policy_version=%s policy_seq=%d policy_hash=%s key_id=%s trading_state=%s valid_until=%s remaining_sec=%d\n",
		sp.Version, sp.Seq, sp.Hash, sp.KeyID, sp.TradingState, time.Unix(sp.ValidUntil, 0).UTC().Format(time.RFC3339), int64(sp.Remaining(v.Now)/time.Second))
	return err
}

// withoutCode returns err's text without its leading "CODE: ".
func withoutCode(err error, code reason.Code) string {
	s := err.Error()
	if p := string(code) + ": "; len(s) > len(p) && strings.HasPrefix(s, p) {
		return s[len(p):]
	}
	return s
}

// PublishedJSON is a published policy as policy publish --json and policy
// refresh --json print it.
func PublishedJSON(sp *policy.Signed, auditID string) map[string]any {
	return map[string]any{
		"published": true, "policy_version": sp.Version, "policy_seq": sp.Seq, "policy_hash": sp.Hash,
		"key_id": sp.KeyID, "valid_until_epoch": sp.ValidUntil, "audit_entry_id": auditID,
	}
}

// WritePublished writes the line of a published policy, as policy publish
// and policy refresh print it.
func WritePublished(w io.Writer, sp *policy.Signed) error {
	_, err := fmt.Fprintf(w, "published policy_version=%s policy_seq=%d policy_hash=%s valid_until=%s key_id=%s\n",
		sp.Version, sp.Seq, sp.Hash, time.Unix(sp.ValidUntil, 0).UTC().Format(time.RFC3339), sp.KeyID)
	return err
}
