# Sourced by the ledger's wrapper scripts (policy_refresh.sh,
# exit_owner_watch.sh), never run: exports the QUANTUM_* variables of
# /etc/quantum/quantum.env (QUANTUM_ENV_FILE overrides the path) that are not
# already set, as the units' EnvironmentFile= would. A variable you export
# yourself, such as QUANTUM_PREFIX for a scratch namespace, always wins.
# shellcheck shell=sh
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
