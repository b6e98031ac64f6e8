# Sourced by scripts/test.sh and .ci/run: makes sure what the tests start
# for real is installed (redis-server, redis-cli, redis-sentinel, promtool,
# prometheus-alertmanager, Debian's python3 with redis-py and pip, gcc for
# the race detector). As root with apt-get (Debian/Ubuntu) it installs what
# is missing; otherwise it says exactly what to install and fails.
export DEBIAN_FRONTEND=noninteractive
missing_pkgs=()
need() { # need COMMAND PACKAGE: PACKAGE provides COMMAND
  command -v "$1" >/dev/null 2>&1 || missing_pkgs+=("$2")
}
need redis-server redis-server
need redis-cli redis-tools              # creates the real Redis Cluster of the cluster tests
need redis-sentinel redis-sentinel      # the Sentinel failover tests
need gcc gcc                            # the race detector needs cgo
need promtool prometheus                # deploy/prometheus rules and the dashboard's queries
need prometheus-alertmanager prometheus-alertmanager # the alert forwarder's end-to-end test
# Debian's python3 with redis-py and pip: the legacy readers' harnesses,
# intent_bridge's Redis calls and clients/python's tests.
if ! /usr/bin/python3 -c 'import redis, setuptools' >/dev/null 2>&1 || ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
  missing_pkgs+=(python3 python3-redis python3-pip python3-setuptools)
fi
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests: installing ${missing_pkgs[*]}"
    apt-get update -qq
    apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
  else
    echo "tests: missing ${missing_pkgs[*]}; install them first, e.g. as root on Debian/Ubuntu:" >&2
    echo "  apt-get install -y ${missing_pkgs[*]}" >&2
    exit 1
  fi
fi
