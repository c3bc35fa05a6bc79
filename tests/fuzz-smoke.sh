#!/bin/sh
# Runs every fuzzer in build/fuzz for a few seconds on its corpus.
# Prints "ok fuzz_NAME" or "not ok fuzz_NAME".
set -u
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-5}
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=fuzz/corpus/${name#fuzz_}
	work=build/fuzz-work/$name
	mkdir -p "$work" build/fuzz-artifacts
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
	if "$f" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz-artifacts/"$name"- "$work" > build/fuzz-artifacts/"$name".log 2>&1; then
		echo "ok $name"
	else
		echo "not ok $name"
		tail -30 build/fuzz-artifacts/"$name".log | sed 's/^/# /'
	fi
done
