#!/bin/sh
# One exit-owner watch run: a thin wrapper over `quantum exit-owner watch`,
# kept at the ledger's path. All logic, checks and exit codes are the binary's:
# 0 no denials in the window, 1 denials found (alert published or held back
# by the repeat interval), 2 could not check.
#
# Under systemd the unit runs the binary itself with
# EnvironmentFile=/etc/quantum/quantum.env. By hand, this script reads the
# same file (QUANTUM_ENV_FILE overrides its path) for the QUANTUM_* variables
# that are not already set: a variable you export yourself, such as
# QUANTUM_PREFIX for a scratch namespace, always wins over the file.
#
#   sudo -u quantum scripts/exit_owner_watch.sh [flags of quantum exit-owner watch]
set -eu

. "$(dirname "$0")/quantum_env.sh"

exec "${QUANTUM_BIN:-/usr/local/bin/quantum}" exit-owner watch "$@"
