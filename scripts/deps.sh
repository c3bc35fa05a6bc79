#!/bin/sh
# Installs the Debian packages Tern needs to build and test, and only those
# that are missing.  Says what it installs.  Safe to run again.
set -eu

PACKAGES="
make gcc libc6-dev
libssl-dev openssl
libsqlite3-dev
libcrypt-dev
libjansson-dev
libcurl4-openssl-dev zlib1g-dev
clang libclang-rt-14-dev
python3
curl
isync
python3-dkim
ca-certificates
"
# Why each one: README.md, section "Dependencies".

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
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
