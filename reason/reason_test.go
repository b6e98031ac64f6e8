package reason_test

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"testing"

	"github.com/quantumtrader/quantum/reason"
)

func TestCodesAreStableUpperSnake(t *testing.T) {
	re := regexp.MustCompile(`^[A-Z]+(_[A-Z]+)+$`)
	seen := map[reason.Code]bool{}
	for _, c := range reason.All {
		if !re.MatchString(string(c)) {
			t.Errorf("%q is not CATEGORY_CONDITION upper snake case", c)
		}
		if seen[c] {
			t.Errorf("%s listed twice", c)
		}
		seen[c] = true
	}
	// SPEC.md lists 32 codes; removing one breaks operators' alerting.
	if len(reason.All) < 32 {
		t.Errorf("%d codes, SPEC.md requires at least 32", len(reason.All))
	}
}

func TestErrorWrapsAndMatches(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	err := fmt.Errorf("load: %w", reason.Errorf(reason.PolicyUnavailable, "redis: %w", cause))
	if got := reason.CodeOf(err); got != reason.PolicyUnavailable {
		t.Fatalf("CodeOf = %q", got)
	}
	if !errors.Is(err, cause) {
		t.Fatal("the cause is not reachable with errors.Is")
	}
	if !errors.Is(err, &reason.Error{Code: reason.PolicyUnavailable}) {
		t.Fatal("errors.Is by code failed")
	}
	if errors.Is(err, &reason.Error{Code: reason.PolicyStale}) {
		t.Fatal("errors.Is matched another code")
	}
	if want := "load: POLICY_UNAVAILABLE: redis: unexpected EOF"; err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	if reason.CodeOf(errors.New("plain")) != "" || reason.CodeOf(nil) != "" {
		t.Fatal("an uncoded error must have no code")
	}
}
