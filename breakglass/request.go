package breakglass

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"

	"github.com/quantumtrader/quantum/market"
	"github.com/quantumtrader/quantum/producer"
)

// InputError is a request the operator must change: a key of the wrong
// source or a symbol that is no symbol. Nothing was sent.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// IsInput reports whether err is the operator's to mend (an *InputError or
// a *PlanError), not a failure of Redis or of the apply layer.
func IsInput(err error) bool {
	var in *InputError
	var bad *PlanError
	return errors.As(err, &in) || errors.As(err, &bad)
}

// ErrNothingToClose is returned by Run when no position is open.
var ErrNothingToClose = errors.New("nothing to close: no open position")

// LoadSigner reads the keyring line in path, which must be source's (an
// *InputError when it is another source's).
func LoadSigner(path, source string) (producer.Signer, error) {
	signer, err := producer.LoadSigner(path)
	if err != nil {
		return producer.Signer{}, err
	}
	if signer.Source != source {
		return producer.Signer{}, &InputError{fmt.Errorf("%s holds the key of %s: this command signs as %s only", path, signer.Source, source)}
	}
	return signer, nil
}

// Request is what the operator asked: with Options.Flatten, the positions
// of Symbols (nil: every open position); else the one symbol Symbols[0],
// Side and Qty of it ("": from the paper venue's position).
type Request struct {
	Symbols   []string
	Side, Qty string
}

// Run finds the closes of req (ErrNoPosition when a close has no position
// to read; ErrNothingToClose when a flatten finds none) and Sends them.
func Run(ctx context.Context, opt Options, req Request) (*Report, error) {
	var closes []Close
	var err error
	switch {
	case opt.Flatten:
		closes, err = Positions(ctx, opt.Redis, opt.Keys, req.Symbols)
	case !market.ValidSymbol(req.Symbols[0]):
		return nil, &InputError{fmt.Errorf("symbol %q: want 2-20 of A-Z and 0-9", req.Symbols[0])}
	default:
		var o Close
		o, err = Single(ctx, opt.Redis, opt.Keys, req.Symbols[0], req.Side, req.Qty)
		closes = []Close{o}
	}
	if err != nil {
		return nil, err
	}
	if len(closes) == 0 {
		return nil, ErrNothingToClose
	}
	return Send(ctx, opt, closes)
}

// WriteText writes one line per close to w (aligned by tw, which the
// caller flushes) and to errw each audit or alert that failed, each
// prefixed "quantum COMMAND:".
func (r *Report) WriteText(tw, errw io.Writer, source, command string) {
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s %s %s\t%s\tplan_id=%s filled_qty=%s\n", source, res.Side, res.Qty, res.Symbol, res.Outcome, res.PlanID, res.FilledQty)
		if res.AuditErr != nil {
			fmt.Fprintf(errw, "quantum %s: audit of %s not written: %v\n", command, res.PlanID, res.AuditErr)
		}
		if res.AlertErr != nil {
			fmt.Fprintf(errw, "quantum %s: MANUAL_EXIT alert for %s not published: %v\n", command, res.PlanID, res.AlertErr)
		}
	}
}

// ExitCode is the documented exit status of the closes, taken in order:
// 3 once a result did not arrive, 1 once one was not executed (unless a
// missing result came first) and for a failed audit or alert (which
// overrides an earlier 3), else 0.
func (r *Report) ExitCode() int {
	code := 0
	for _, res := range r.Results {
		switch {
		case !res.Arrived:
			code = 3
		case !res.Executed && code == 0:
			code = 1
		}
		if res.AuditErr != nil || res.AlertErr != nil {
			code = 1
		}
	}
	return code
}

// Actor names the operator: $SUDO_USER, else the user, else the uid.
func Actor(getenv func(string) string) string {
	if u := getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}
