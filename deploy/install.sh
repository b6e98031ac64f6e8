#!/bin/sh
# deploy/install.sh: the README's production steps on a fresh Debian host
# with systemd, in order, as root, from a checkout with the binary built
# (go build -o quantum ./cmd/quantum). Safe to run again: nothing that exists
# is overwritten (keys, keyring, settings), units and the binary are updated.
#
#   sudo sh deploy/install.sh
#
# What it installs, with owners and modes (the units run as user quantum):
#
#   /usr/local/bin/quantum                         root:root     0755
#   /etc/quantum/                                  root:quantum  0750
#   /etc/quantum/quantum.env                       root:quantum  0640  every unit's settings
#   /etc/quantum/policy.json                       root:quantum  0640  the refresh's template
#   /etc/quantum/keys/                             root:quantum  0750
#   /etc/quantum/keys/policy.key                   quantum:quantum 0600  the refresh signs with it
#   /etc/quantum/keys/policy.pub                   root:quantum  0644  every reader trusts it
#   /etc/quantum/keyring                           quantum:quantum 0600  the apply layer's producer secrets
#   /etc/quantum/result.key                        quantum:quantum 0600  the MAC key of every result
#   /etc/quantum/producers/<source>.key            root:root     0600  one line each, for its producer
#   /etc/quantum/redis-<role>.env                  root:quantum  0640  each unit's own Redis user
#   /etc/systemd/system/quantum-*.service|timer    root:root     0644
#   /etc/systemd/system/<unit>.d/redis-user.conf   root:root     0644  EnvironmentFile= of its Redis user
#
# For tests and image builds: ROOT=/scratch installs under a scratch root
# (no systemctl): the quantum user goes into $ROOT/etc/passwd and
# $ROOT/etc/group (useradd --prefix; the host's are never touched, and
# $ROOT/etc/passwd must exist, with root in it, as in any Debian root) and
# owners are set by the ids found there. QUANTUM_INSTALL_NO_CHOWN=1 leaves
# owners alone (non-root), QUANTUM_BIN_SRC names the built binary (default
# ./quantum).
set -eu

ROOT=${ROOT:-}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN_SRC=${QUANTUM_BIN_SRC:-./quantum}
NO_CHOWN=${QUANTUM_INSTALL_NO_CHOWN:-}
ETC=$ROOT/etc/quantum
SYSTEMD=$ROOT/etc/systemd/system
QUANTUM=$ROOT/usr/local/bin/quantum

own() { # own USER:GROUP PATH...
	[ -n "$NO_CHOWN" ] && return 0
	o=$1; shift
	if [ -n "$ROOT" ]; then # the names of the scratch root, not the host's
		u=$(awk -F: -v n="${o%%:*}" '$1 == n { print $3 }' "$ROOT/etc/passwd")
		g=$(awk -F: -v n="${o#*:}" '$1 == n { print $3 }' "$ROOT/etc/group")
		if [ -z "$u" ] || [ -z "$g" ]; then
			echo "install.sh: $o is not in $ROOT/etc/passwd and $ROOT/etc/group" >&2
			exit 1
		fi
		o=$u:$g
	fi
	chown "$o" "$@"
}
put() { # put MODE USER:GROUP SRC DST: install SRC at DST unless DST exists
	[ -e "$4" ] && return 0
	install -m "$1" "$3" "$4"
	own "$2" "$4"
}
mkd() { # mkd MODE USER:GROUP DIR
	install -d -m "$1" "$3"
	own "$2" "$3"
}

# 1. The service user: no login, no home.
if [ -z "$NO_CHOWN" ] && [ -n "$ROOT" ]; then
	if [ ! -e "$ROOT/etc/passwd" ]; then
		echo "install.sh: $ROOT/etc/passwd does not exist: ROOT must be a system root (with root in etc/passwd and etc/group), or set QUANTUM_INSTALL_NO_CHOWN=1" >&2
		exit 1
	fi
	if ! grep -q '^quantum:' "$ROOT/etc/passwd"; then
		useradd --prefix "$ROOT" --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin quantum
	fi
elif [ -z "$NO_CHOWN" ] && ! getent passwd quantum >/dev/null; then
	useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin quantum
fi

# 2. The binary, and the directories before any key (keygen would create
#    them 0700 root, unreadable by the units).
mkd 0755 root:root "$ROOT/usr/local/bin"
install -m 0755 "$BIN_SRC" "$QUANTUM"
mkd 0750 root:quantum "$ETC"
mkd 0750 root:quantum "$ETC/keys"
mkd 0700 root:root "$ETC/producers"

# 3. Settings and the refresh's template.
put 0640 root:quantum "$SRC/deploy/quantum.env.example" "$ETC/quantum.env"
put 0640 root:quantum "$SRC/deploy/policy.example.json" "$ETC/policy.json"

# 4. Keys: the policy key pair, then one HMAC secret per producer, each line
#    in the apply layer's keyring and alone in its own file.
if [ ! -e "$ETC/keys/policy.key" ]; then
	"$QUANTUM" policy keygen --out "$ETC/keys" >/dev/null
	own quantum:quantum "$ETC/keys/policy.key"
	own root:quantum "$ETC/keys/policy.pub"
fi
if [ ! -e "$ETC/keyring" ]; then
	umask 077
	: >"$ETC/keyring"
	for s in exitbrain_v3_5 intent_bridge manual_close emergency_stop quantum_proof; do
		"$QUANTUM" plan keygen --source "$s" >"$ETC/producers/$s.key"
		cat "$ETC/producers/$s.key" >>"$ETC/keyring"
	done
	chmod 0600 "$ETC/keyring" "$ETC/producers/"*.key
	own quantum:quantum "$ETC/keyring"
	umask 022
fi

# The result key: the apply layer's MAC on every result, checked by the
# watch, status and the proofs (one line of hex).
if [ ! -e "$ETC/result.key" ]; then
	umask 077
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ETC/result.key"
	echo >>"$ETC/result.key"
	umask 022
	chmod 0600 "$ETC/result.key"
	own quantum:quantum "$ETC/result.key"
fi

# 5. Units, and each unit's own Redis user (deploy/redis/users.acl): a
#    second EnvironmentFile read after quantum.env (a later file wins).
mkd 0755 root:root "$SYSTEMD"
for f in "$SRC"/deploy/systemd/*.service "$SRC"/deploy/systemd/*.timer; do
	install -m 0644 "$f" "$SYSTEMD/$(basename "$f")"
done
for pair in quantum-apply-layer:apply-layer quantum-policy-refresh:refresh quantum-exit-owner-watch:watch \
	quantum-exit-owner-follow:watch quantum-alerts-forward:alerts-forward quantum-proof:proof; do
	unit=${pair%%:*} role=${pair#*:}
	env=$ETC/redis-$role.env
	if [ ! -e "$env" ]; then
		printf 'QUANTUM_REDIS_URL=redis://quantum-%s:CHANGE-ME-%s@127.0.0.1:6379/0\n' "$role" "$role" >"$env"
		chmod 0640 "$env"
		own root:quantum "$env"
	fi
	mkd 0755 root:root "$SYSTEMD/$unit.service.d"
	printf '[Service]\nEnvironmentFile=/etc/quantum/redis-%s.env\n' "$role" >"$SYSTEMD/$unit.service.d/redis-user.conf"
	chmod 0644 "$SYSTEMD/$unit.service.d/redis-user.conf"
done

if [ -z "$ROOT" ]; then
	systemctl daemon-reload
fi
echo "installed under ${ROOT:-/}: edit $ETC/quantum.env and $ETC/redis-*.env (the CHANGE-ME passwords of users.acl), then enable the units (README)"
