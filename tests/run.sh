#!/bin/sh
# Runs every test: unit tests (sanitizer build), end-to-end tests against
# the sanitizer build of the server, and a short fuzz run.  Each test prints
# "ok NAME" or "not ok NAME"; the last line of output is "N passed, N failed"
# and the exit status is non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."

LOG=build/test-log.txt
mkdir -p build
: > "$LOG"
passed=0
failed=0

count() {   # count FILE EXIT_STATUS NAME
	p=$(grep -c '^ok ' "$1" || true)
	f=$(grep -c '^not ok ' "$1" || true)
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok $3 (exit status $2)" | tee -a "$LOG"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

run_one() {   # run_one NAME COMMAND...
	name=$1
	shift
	out=build/test-out.txt
	echo "== $name" >> "$LOG"
	"$@" > "$out" 2>&1
	status=$?
	cat "$out" >> "$LOG"
	grep -E '^(not ok|ok) ' "$out" | sed "s|^|  |" | grep '^  not ok' || true
	grep -E '^# ' "$out" | head -20 | sed 's|^|  |' || true
	count "$out" "$status" "$name"
	printf '%-40s %s passed, %s failed\n' "$name" "$(grep -c '^ok ' "$out")" "$(grep -c '^not ok ' "$out")"
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "--- unit tests (ASan+UBSan)"
for t in build/san/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "unit/$(basename "$t")" "$t"
done

# Debian's Python, which has the python3-* packages scripts/deps.sh
# installs (dnslib, dkim), even where another python3 comes first in PATH.
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3

echo "--- end-to-end tests"
export TERN_BIN="$PWD/build/san/tern"
for t in tests/e2e/test_*.py; do
	[ -f "$t" ] || continue
	run_one "e2e/$(basename "$t" .py)" "$PYTHON" "$t"
done

# The directory's own tests once more with the directory on PostgreSQL
# (the harness starts one: tests/e2e/pgserver.py); test_directory_pg.py
# above covers logins, delivery, outages and shared blocks there.
echo "--- directory tests on PostgreSQL"
for t in test_cli test_cli_apppw test_cli_auth test_auth_modes test_quota test_bruteforce test_pop3; do
	run_one "e2e-pg/$t" env TERN_TEST_DIRECTORY=postgresql "$PYTHON" "tests/e2e/$t.py"
done
# A proxy and two back ends on one PostgreSQL directory: the logins only.
run_one "e2e-pg/test_proxy" env TERN_TEST_DIRECTORY=postgresql TERN_TEST_ONLY=login_lands "$PYTHON" tests/e2e/test_proxy.py

echo "--- imaptest compliance (when IMAPTEST is set)"
run_one "imaptest-compliance" "$PYTHON" tests/imaptest_compliance.py

echo "--- fuzz smoke run"
run_one "fuzz-smoke" tests/fuzz-smoke.sh

echo "(full output: $LOG)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
