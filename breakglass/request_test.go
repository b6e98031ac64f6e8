package breakglass

import (
	"errors"
	"strings"
	"testing"
)

// TestReportExitCode pins the documented exit status of close and flatten
// over every order of outcomes: a missing result is 3 unless a later
// failed audit or alert makes it 1, a result not executed is 1.
func TestReportExitCode(t *testing.T) {
	ok := Result{Arrived: true, Executed: true}
	denied := Result{Arrived: true}
	missing := Result{}
	unaudited := Result{Arrived: true, Executed: true, AuditErr: errors.New("down")}
	unalerted := Result{Arrived: true, Executed: true, AlertErr: errors.New("down")}
	for _, tc := range []struct {
		name string
		res  []Result
		want int
	}{
		{"none", nil, 0},
		{"executed", []Result{ok, ok}, 0},
		{"denied", []Result{ok, denied}, 1},
		{"missing", []Result{ok, missing}, 3},
		{"missing then denied", []Result{missing, denied}, 3},
		{"denied then missing", []Result{denied, missing}, 3},
		{"missing then unaudited", []Result{missing, unaudited}, 1},
		{"unaudited then missing", []Result{unaudited, missing}, 3},
		{"unalerted", []Result{ok, unalerted}, 1},
	} {
		if got := (&Report{Results: tc.res}).ExitCode(); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestReportWriteText checks a close's line and that a failed audit or
// alert is told on the error stream, never on the table.
func TestReportWriteText(t *testing.T) {
	rep := &Report{Results: []Result{{Close: Close{Symbol: "BTCUSDT", Side: "SELL", Qty: "0.5"}, PlanID: "p1", Outcome: "EXECUTED", FilledQty: "0.5",
		AuditErr: errors.New("audit down"), AlertErr: errors.New("alerts down")}}}
	var out, errw strings.Builder
	rep.WriteText(&out, &errw, SourceManualClose, "close")
	if want := "manual_close\tSELL 0.5 BTCUSDT\tEXECUTED\tplan_id=p1 filled_qty=0.5\n"; out.String() != want {
		t.Errorf("table %q, want %q", out.String(), want)
	}
	for _, want := range []string{"quantum close: audit of p1 not written: audit down\n", "quantum close: MANUAL_EXIT alert for p1 not published: alerts down\n"} {
		if !strings.Contains(errw.String(), want) {
			t.Errorf("stderr %q lacks %q", errw.String(), want)
		}
	}
}

// TestIsInput: a key of another source and a bad plan are the operator's
// to mend (exit 2); a Redis failure is not.
func TestIsInput(t *testing.T) {
	if !IsInput(&InputError{errors.New("x")}) || !IsInput(&PlanError{Symbol: "X", Err: errors.New("y")}) {
		t.Error("input errors not recognised")
	}
	if IsInput(errors.New("redis down")) || IsInput(ErrNoPosition) {
		t.Error("a failure taken for input")
	}
}
