#!/usr/bin/env bash
# Run every libFuzzer binary in <build>/tests/fuzz for FUZZ_SECONDS each,
# starting from its seed corpus (tests/fuzz/corpus/<name>) and growing a work
# corpus in <build>/tests/fuzz/corpus-<name>. Crashes land in
# <build>/tests/fuzz/artifacts-<name>/. Exits non-zero if any fuzzer failed.
#
#   scripts/fuzz.sh [build-dir] [seconds]
set -euo pipefail

BUILD_DIR="${1:-build}"
SECONDS_EACH="${2:-${FUZZ_SECONDS:-300}}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"

shopt -s nullglob
fuzzers=("$BUILD_DIR"/tests/fuzz/fuzz_*)
if ((${#fuzzers[@]} == 0)); then
  echo "fuzz: no fuzzers in $BUILD_DIR/tests/fuzz (make build first)" >&2
  exit 1
fi

failed=()
for bin in "${fuzzers[@]}"; do
  [[ -x "$bin" && -f "$bin" ]] || continue
  name="$(basename "$bin")"; name="${name#fuzz_}"
  work="$BUILD_DIR/tests/fuzz/corpus-$name"
  artifacts="$BUILD_DIR/tests/fuzz/artifacts-$name"
  seeds="$REPO/tests/fuzz/corpus/$name"
  mkdir -p "$work" "$artifacts"
  corpora=("$work")
  [[ -d "$seeds" ]] && corpora+=("$seeds")
  echo "fuzz: $name for ${SECONDS_EACH}s (corpus $work, artifacts $artifacts)"
  if ! ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" "$bin" \
      -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "${corpora[@]}"; then
    failed+=("$name")
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (crash inputs under $BUILD_DIR/tests/fuzz/artifacts-*/)" >&2
  exit 1
fi
echo "fuzz: all ${#fuzzers[@]} fuzzer(s) ran ${SECONDS_EACH}s without a crash"
