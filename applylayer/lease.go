package applylayer

// Symbol leases: the position read, the gate's decision and the order of
// one symbol are serialized across every replica by a lease in Redis
// (lease.lua), held from the read to the recorded fill, and fenced
// immediately before each venue call (guard.lua). Without it two replicas
// could each read a flat position, one open a long and the other's
// "entry" on the opposite side close it: a non-owner exit.
//
// A consumer holds at most one symbol's lease at a time, and gives it up
// before it takes another, so no two replicas can wait on each other. The
// lease lasts ClaimIdle, like the plan record's lease, and both are renewed
// by every fence. A fence that took longer than half the lease to answer
// is treated as lost (the process may have been paused after Redis
// renewed it, which a local monotonic clock can tell and Redis cannot).
// What no fence can close: a pause between the fence's answer and the
// venue receiving the request; the lease's length (ClaimIdle, default
// 10 s) bounds how late such a request can be, and docs/security.md says so.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// symbolLease is the lease this consumer holds on one symbol.
type symbolLease struct {
	symbol string
	token  string
}

// errLeaseLost: another consumer took the plan's record (a paused replica
// resumed late): this one must not act on the plan nor write its result.
var errLeaseLost = errors.New("lease lost to another consumer")

// errSymbolLost: the symbol's lease expired or was taken while this
// consumer decided: the position it read may be stale, decide again.
var errSymbolLost = errors.New("symbol lease lost")

func (s *Service) leaseTTL() time.Duration { return s.cfg.ClaimIdle }

// holdSymbol makes this consumer the holder of symbol's lease, giving up
// the one it holds on another symbol first. It waits while another replica
// holds it, up to twice the lease (a dead holder's lease expires by then).
// A lease taken anew invalidates the batch's copy of the position.
func (s *Service) holdSymbol(ctx context.Context, symbol string) error {
	if s.held != nil && s.held.symbol == symbol {
		return nil
	}
	s.releaseSymbol(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	token := s.cfg.Consumer + ":" + hex.EncodeToString(b)
	key := s.cfg.State.ApplySymbolLease(symbol)
	deadline := time.Now().Add(2 * s.leaseTTL())
	wait := time.Millisecond
	for {
		ok, err := leaseScript.Run(ctx, s.rdb, []string{key}, "take", token, s.leaseTTL().Milliseconds()).Int()
		if err != nil {
			return fmt.Errorf("take the lease of %s: %w", symbol, err)
		}
		if ok == 1 {
			s.held = &symbolLease{symbol: symbol, token: token}
			delete(s.batchPos, symbol)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the lease of %s has been held by another consumer for over %s", symbol, 2*s.leaseTTL())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// releaseSymbol gives up the symbol lease this consumer holds, if any.
func (s *Service) releaseSymbol(ctx context.Context) {
	if s.held == nil {
		return
	}
	key := s.cfg.State.ApplySymbolLease(s.held.symbol)
	if err := leaseScript.Run(ctx, s.rdb, []string{key}, "give", s.held.token).Err(); err != nil {
		s.cfg.Log.Warn("could not give up a symbol lease: it expires by itself", "symbol", s.held.symbol, "error", err)
	}
	s.held = nil
}

// fence checks, immediately before a venue call for it, that this consumer
// still owns the plan's record and holds its symbol's lease, and renews
// both. errLeaseLost and errSymbolLost say which was lost.
func (s *Service) fence(ctx context.Context, it *item) error {
	if s.held == nil || s.held.symbol != it.p.Symbol {
		return errSymbolLost
	}
	start := time.Now()
	res, err := guardScript.Run(ctx, s.rdb, []string{it.recKey, s.cfg.State.ApplySymbolLease(it.p.Symbol)},
		s.cfg.Consumer, it.msg.ID, s.held.token, s.leaseTTL().Milliseconds()).Text()
	if err != nil {
		return fmt.Errorf("fence plan %s: %w", it.p.ID, err)
	}
	switch {
	case res == "record":
		return errLeaseLost
	case res != "ok":
		s.held = nil
		return errSymbolLost
	case time.Since(start) > s.leaseTTL()/2:
		// Paused while Redis renewed the leases: they may be nearly over.
		s.held = nil
		return errSymbolLost
	}
	return nil
}
