#!/bin/sh
# Installs the Debian packages Tern needs, and only those that are
# missing.  Says what it installs.  Safe to run again.
#   scripts/deps.sh run    to build and run (make run)
#   scripts/deps.sh        also everything the tests use (make test)
set -eu

# Building and running.
RUN_PACKAGES="
make gcc libc6-dev
libssl-dev openssl
libsqlite3-dev
libpq-dev
libcrypt-dev
libjansson-dev
libcurl4-openssl-dev zlib1g-dev
libunbound-dev dns-root-data
ca-certificates
publicsuffix
curl
"
# The tests: the fuzzers' compiler, real clients and peers, reference servers.
TEST_PACKAGES="
clang libclang-rt-14-dev
python3 python3-dnslib
isync
python3-dkim
postfix
nsd ldnsutils
mandoc
python3-prometheus-client
chromium chromium-driver python3-selenium
dovecot-core dovecot-imapd dovecot-pop3d
postgresql
"
# Why each one: README.md, section "Dependencies".
PACKAGES=$RUN_PACKAGES
[ "${1:-test}" = run ] || PACKAGES="$RUN_PACKAGES $TEST_PACKAGES"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# postfix and nsd are for the tests only (smtp-sink, tests/unit/test_mta.c;
# the DNSSEC-signed zone of tests/e2e/test_dane.py, which runs its own
# nsd on a free port): no configuration, and no system daemon started
# while they install -- a system nsd would sit on port 53 (the same
# policy-rc.d guard as .ci/run uses for dovecot-core).  Dovecot likewise:
# tests/e2e/test_import_maildir.py starts its own with `dovecot -c`.
# PostgreSQL too: tests/e2e/pgserver.py runs its own initdb and pg_ctl on
# a temporary directory; no system cluster is started.
made_policy=
case " $missing " in
*" postfix "* | *" nsd "* | *" dovecot-"* | *" postgresql "*)
	case " $missing " in
	*" postfix "*)
		echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections ;;
	esac
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod +x /usr/sbin/policy-rc.d
		made_policy=1
	fi
	;;
esac
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
echo "deps: done"
