#!/bin/sh
# The ledger's proof "exposure-limits": a thin wrapper over `quantum proof run exposure-limits`,
# kept at the ledger's path. All tests, evidence and exit codes are the
# binary's: 0 when no test failed (SKIP is not FAIL), 1 otherwise. Each run is
# appended to quantum:stream:proof.runs. What the tests prove: docs/proofs.md.
#
# It reads /etc/quantum/quantum.env (QUANTUM_ENV_FILE overrides its path) for
# the QUANTUM_* variables that are not already set, as the units do:
# QUANTUM_REDIS_URL, QUANTUM_PREFIX, QUANTUM_POLICY_PUBKEY, QUANTUM_PROOF_KEY_FILE.
#
#   sudo -u quantum scripts/proof_exposure_limits.sh [--format text|tap|junit|json]
set -eu

. "$(dirname "$0")/quantum_env.sh"

exec "${QUANTUM_BIN:-/usr/local/bin/quantum}" proof run exposure-limits "$@"
