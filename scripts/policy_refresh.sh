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

env_file=${QUANTUM_ENV_FILE:-/etc/quantum/quantum.env}
if [ -r "$env_file" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in '' | '#'*) continue ;; esac
    name=${line%%=*}
    value=${line#*=}
    case $name in QUANTUM_*) ;; *) continue ;; esac
    case $name in *[!A-Z0-9_]*) continue ;; esac
    # systemd's EnvironmentFile strips one pair of surrounding quotes.
    case $value in
      \"*\") value=${value#\"}; value=${value%\"} ;;
      \'*\') value=${value#\'}; value=${value%\'} ;;
    esac
    eval "isset=\${$name+x}"
    [ -n "$isset" ] || export "$name=$value"
  done <"$env_file"
fi

exec "${QUANTUM_BIN:-/usr/local/bin/quantum}" policy refresh "$@"
