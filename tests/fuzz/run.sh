#!/bin/bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each one for a
# bounded time. Usage:
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGET defaults to all five
# (fuzz_client_event fuzz_published fuzz_config fuzz_callback_answer fuzz_dispatch).
# Environment: SOCKETSHARK_FUZZ_BUILD (build directory, default build-fuzz),
# CXX_FUZZ (compiler, default clang++-14; needs libclang-rt-14-dev).
#
# For each target: first every input of tests/fuzz/regressions/<target>/ is
# replayed (each one a crash found earlier), then libFuzzer runs on a working
# copy of tests/fuzz/corpus/<target>/ (in the build directory: the committed
# seeds are never rewritten). A crash leaves its input in
# <build>/fuzz-artifacts/<target>/; copy it to tests/fuzz/regressions/<target>/.
# Last, python_diff.py compares normalize_published_at and python_float with
# Python 3.11 (/usr/bin/python3) on the strings the fuzzers found plus
# generated ones.
# Exit status: 0 when no regression input and no fuzzing run crashed and
# python_diff found no difference.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_client_event fuzz_published fuzz_config fuzz_callback_answer fuzz_dispatch)
build=${SOCKETSHARK_FUZZ_BUILD:-$repo/build-fuzz}
cxx=${CXX_FUZZ:-clang++-14}

case "$seconds" in ''|*[!0-9]*) echo "run.sh: SECONDS_PER_TARGET must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

mkdir -p "$build"
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DSOCKETSHARK_FUZZ=ON \
  -DSOCKETSHARK_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/fuzz-configure.log" 2>&1 \
  || { cat "$build/fuzz-configure.log"; echo "run.sh: configure failed" >&2; exit 2; }
cmake --build "$build" --target "${targets[@]}" python_diff_driver || { echo "run.sh: build failed" >&2; exit 2; }

dict_of() {
  case "$1" in
    fuzz_config) echo "$here/dict/config.dict" ;;
    *) echo "$here/dict/json.dict" ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
summary=()
for target in "${targets[@]}"; do
  binary="$build/tests/fuzz/$target"
  logs="$build/fuzz-logs"
  artifacts="$build/fuzz-artifacts/$target"
  work="$build/fuzz-corpus/$target"
  mkdir -p "$logs" "$artifacts" "$work"

  # 1. Regressions: every earlier crash must stay fixed.
  regressions="$here/regressions/$target"
  replay="no regression inputs"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    count=0
    bad=0
    for input in "$regressions"/*; do
      count=$((count + 1))
      # (the braces keep bash's "Aborted" job notice out of the output)
      if ! { timeout 120 "$binary" -rss_limit_mb=4096 -timeout=60 "$input" >"$logs/$target.regression.$(basename "$input").log" 2>&1; } 2>/dev/null; then
        bad=$((bad + 1))
        echo "REGRESSION $target: $(basename "$input") still crashes:" >&2
        grep -E "ERROR|SUMMARY|FUZZ_CHECK|runtime error" "$logs/$target.regression.$(basename "$input").log" | head -5 >&2
      fi
    done
    replay="$((count - bad))/$count regression inputs pass"
    [ "$bad" -ne 0 ] && failed=1
  fi

  # 2. Fuzzing for a bounded time from the seeds (and what earlier runs found).
  cp -n "$here/corpus/$target/"* "$work/" 2>/dev/null || true
  log="$logs/$target.fuzz.log"
  { timeout $((seconds + 120)) "$binary" "$work" \
      -dict="$(dict_of "$target")" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=16384 -use_value_profile=1 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" >"$log" 2>&1; } 2>/dev/null
  status=$?
  execs=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}')
  cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1)
  units=$(ls "$work" | wc -l)
  if [ "$status" -ne 0 ]; then
    failed=1
    crash=$(ls -t "$artifacts" 2>/dev/null | head -1)
    echo "CRASH $target (exit $status): $artifacts/$crash" >&2
    grep -E "ERROR|SUMMARY|FUZZ_CHECK|runtime error" "$log" | head -5 >&2
    summary+=("$target: CRASH (exit $status) after ${execs:-?} execs, ${cov:-?}; $replay; input $artifacts/$crash")
  else
    summary+=("$target: ok, ${execs:-?} execs in ${seconds} s, ${cov:-?}, corpus $units; $replay")
  fi
done

# 3. What the fuzzers found, and generated inputs, compared with Python 3.11
#    itself (normalize_published_at and python_float must match it exactly).
if /usr/bin/python3 "$here/python_diff.py" "$build/tests/fuzz/python_diff_driver" "$build" \
    >"$build/fuzz-logs/python_diff.log" 2>&1; then
  summary+=("$(head -1 "$build/fuzz-logs/python_diff.log")")
else
  failed=1
  cat "$build/fuzz-logs/python_diff.log" >&2
  summary+=("python_diff: DIFFERENCES (see $build/fuzz-logs/python_diff.log)")
fi

echo
echo "fuzz summary (logs in $build/fuzz-logs):"
printf '  %s\n' "${summary[@]}"
exit $failed
