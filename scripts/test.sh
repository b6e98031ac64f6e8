#!/usr/bin/env bash
# The whole test suite, as the README says: installs what the tests need
# first (as root on Debian/Ubuntu; elsewhere it says what to install), then
# runs every test against the real processes they start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/test_deps.sh
go test -count=1 ./...
