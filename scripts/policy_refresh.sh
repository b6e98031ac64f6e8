#!/bin/sh
# One policy refresh: a thin wrapper over `quantum policy refresh`, kept at
# the ledger's path. All logic, checks and exit codes are the binary's:
# 0 published, 2 refused or failed (the live policy untouched).
#
# Under systemd the unit runs the binary itself with
# EnvironmentFile=/etc/quantum/quantum.env. By hand, this script reads the
# same file (QUANTUM_ENV_FILE overrides its path) for the QUANTUM_* variables
# that are not already set: a variable you export yourself, such as
# QUANTUM_PREFIX for a scratch namespace, always wins over the file.
#
#   sudo -u quantum scripts/policy_refresh.sh [flags of quantum policy refresh]
set -eu

. "$(dirname "$0")/quantum_env.sh"

exec "${QUANTUM_BIN:-/usr/local/bin/quantum}" policy refresh "$@"
