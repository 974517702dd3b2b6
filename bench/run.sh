#!/usr/bin/env bash
# bench/run.sh — the benchmark suite of issue 9 (see docs/benchmarks.md).
#
# Builds the daemon (Release, build-release/) and the load generator, then runs
# every scenario on a fresh daemon with its own private redis-server, and the
# same scenarios 1-4 against nginx + nchan, and prints a markdown table; the
# raw results, the JSON summary, the perf profile and the daemons' logs go to
# the output directory.
#
#   bench/run.sh [--quick] [--out DIR] [--rev REV] [--no-nchan] [--no-perf]
#                [--no-renice] [--wait-idle SECONDS]
#
#   --quick      one short run of each scenario (under 2 minutes once built)
#   --out DIR    results directory (default build-release/bench-results)
#   --rev REV    benchmark the daemon of a commit (git archive REV, built in
#                build-release/rev-<sha>/) instead of the working tree
#   --no-nchan   skip the nginx + nchan comparison
#   --no-perf    skip the perf profile of the daemon during fan-out
#   --no-renice  run at normal priority (by default the servers, the load and
#                the callback service each run in a session of their own at
#                nice -20 -- autogroup included -- so that other work on a
#                shared machine disturbs the figures less)
#   --wait-idle S  first wait up to S seconds for both CPUs to be >= 80 % idle
#
# With two or more CPUs the daemon, Redis and nginx run on CPU 0 and the load
# generator and the callback service on CPU 1 (taskset). Everything listens on
# 127.0.0.1; every process this script starts is stopped by its PID.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-release
QUICK=0
WITH_NCHAN=1
WITH_PERF=1
RENICE=1
OUT=""
REV=""
WAIT_IDLE=0
ARGS="$*"

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-nchan) WITH_NCHAN=0 ;;
    --no-perf) WITH_PERF=0 ;;
    --no-renice) RENICE=0 ;;
    --out) OUT=$2; shift ;;
    --rev) REV=$2; shift ;;
    --wait-idle) WAIT_IDLE=$2; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
OUT=${OUT:-$BUILD/bench-results}

# ---------------------------------------------------------------- parameters
FAN_CONNS=2000 FAN_SUBS=20 WINDOW=1000
STORM_CONNS=5000 STORM_CONCURRENCY=1000
IDLE_CONNS=10000
if [ "$QUICK" = 1 ]; then
  FAN_RUNS=1 FAN_SECONDS=3 LAT_SECONDS=3 SLOW_SECONDS=6 PERF_SECONDS=2
else
  FAN_RUNS=3 FAN_SECONDS=10 LAT_SECONDS=10 SLOW_SECONDS=10 PERF_SECONDS=5
fi

log() { echo "[$(date +%T)] $*" >&2; }

# ---------------------------------------------------------------- build
log "building the load generator (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOCKETSHARK_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target socketshark_bench >/dev/null
BENCH=$BUILD/bench/socketshark_bench
if [ -n "$REV" ]; then
  SHA=$(git -C "$ROOT" rev-parse --short "$REV^{commit}")
  DAEMON_BUILD=$BUILD/rev-$SHA
  DAEMON_VERSION="commit $SHA"
  log "building the daemon of $REV ($SHA) in $DAEMON_BUILD"
  rm -rf "$DAEMON_BUILD/src"
  mkdir -p "$DAEMON_BUILD/src"
  git -C "$ROOT" archive "$SHA" | tar -x -C "$DAEMON_BUILD/src"
  cmake -S "$DAEMON_BUILD/src" -B "$DAEMON_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSOCKETSHARK_TESTS=OFF >/dev/null
  cmake --build "$DAEMON_BUILD" --target socketshark -- -j2 >/dev/null
else
  DAEMON_BUILD=$BUILD
  DAEMON_VERSION="working tree at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  log "building the daemon (working tree) in $DAEMON_BUILD"
  cmake --build "$DAEMON_BUILD" --target socketshark -- -j2 >/dev/null
fi
DAEMON=$DAEMON_BUILD/socketshark
"$DAEMON" --version >/dev/null || { echo "$DAEMON does not run" >&2; exit 1; }

command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install redis-server)" >&2; exit 1; }
if [ "$WITH_NCHAN" = 1 ] && { ! command -v nginx >/dev/null || [ ! -e /usr/lib/nginx/modules/ngx_nchan_module.so ]; }; then
  log "nginx/nchan not installed (apt-get install nginx libnginx-mod-nchan): skipping the comparison"
  WITH_NCHAN=0
fi
if [ "$WITH_PERF" = 1 ] && ! perf stat -e instructions true >/dev/null 2>&1; then
  log "perf does not work here (apt-get install linux-perf): skipping the profile"
  WITH_PERF=0
fi

# ---------------------------------------------------------------- limits, CPUs
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)
if [ "$FD_LIMIT" != unlimited ] && [ "$FD_LIMIT" -lt $((IDLE_CONNS + 500)) ]; then
  IDLE_CONNS=$(( (FD_LIMIT - 500) / 1000 * 1000 ))
  log "open-files limit is $FD_LIMIT: the idle scenario uses $IDLE_CONNS connections"
fi
NGINX_FDS=$FD_LIMIT; [ "$NGINX_FDS" = unlimited ] && NGINX_FDS=1048576
NGINX_CONNS=$((NGINX_FDS > 30100 ? 30000 : NGINX_FDS - 100))

SERVER_CPU=() LOAD_CPU=()
if [ "$(nproc)" -ge 2 ]; then
  SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1)
fi
NICE=()
if [ "$RENICE" = 1 ] && nice -n -20 true 2>/dev/null; then NICE=("$BENCH" boosted); fi
SERVER=("${NICE[@]}" "${SERVER_CPU[@]}")
LOAD=("${NICE[@]}" "${LOAD_CPU[@]}")

# ---------------------------------------------------------------- processes
mkdir -p "$OUT" "$OUT/logs"
WORK=$(mktemp -d /tmp/socketshark-bench.XXXXXX)
RESULTS=$OUT/results.jsonl
ANOMALIES=$OUT/anomalies.txt
: >"$RESULTS"
: >"$ANOMALIES"
STARTED=()  # PIDs of everything started here

cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${STARTED[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() { local keep=() p; for p in "${STARTED[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; STARTED=("${keep[@]}"); }

# stop_pid PID NAME: SIGTERM, then SIGKILL after 10 s; notes an unclean exit.
stop_pid() {
  local pid=$1 name=$2 status=0 i
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || status=$?
    echo "$name (pid $pid) had already exited (status $status) before the end of its scenario" >>"$ANOMALIES"
    forget "$pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$name (pid $pid) did not exit within 10 s of SIGTERM: killed" >>"$ANOMALIES"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  [ "$status" = 0 ] || echo "$name (pid $pid) exited with status $status after SIGTERM" >>"$ANOMALIES"
  forget "$pid"
}

start_redis() {
  REDIS_PORT=$("$BENCH" freeport)
  "${SERVER[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK" --logfile "$WORK/redis-$REDIS_PORT.log" &
  REDIS_PID=$!
  STARTED+=("$REDIS_PID")
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  log "redis-server did not start"; exit 1
}

# start_daemon NAME AUTH(0|1) SEND_BUFFER_BYTES
start_daemon() {
  local name=$1 auth=$2 send_buffer=$3
  start_redis
  WS_PORT=$("$BENCH" freeport)
  METRICS_PORT=$("$BENCH" freeport)
  DAEMON_LOG=$OUT/logs/socketshark-$name.log
  local conf=$WORK/socketshark-$name.yaml
  {
    echo "ws_host: 127.0.0.1"
    echo "ws_port: $WS_PORT"
    echo "broker: redis"
    echo "redis: {host: 127.0.0.1, port: $REDIS_PORT, ping_interval: 0}"
    echo "ws_ping: {interval: 0}"
    echo "log: {level: WARNING}"
    echo "metrics: {prometheus: {host: 127.0.0.1, port: $METRICS_PORT}}"
    echo "limits: {send_buffer_bytes: $send_buffer}"
    if [ "$auth" = 1 ]; then
      echo "authentication: {ticket: {validation_url: 'http://127.0.0.1:$CALLBACK_PORT/auth/ticket/', auth_fields: [user_id]}}"
      echo "services: {bench: {require_authentication: true}}"
    else
      echo "services: {bench: {require_authentication: false}}"
    fi
  } >"$conf"
  cp "$conf" "$OUT/logs/"
  "${SERVER[@]}" "$DAEMON" -c "$conf" >"$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!
  STARTED+=("$DAEMON_PID")
  if ! "$BENCH" wait-http --port "$METRICS_PORT" --path /readyz --timeout 15; then
    log "the daemon did not become ready:"; tail -5 "$DAEMON_LOG" >&2; exit 1
  fi
}

stop_daemon() {
  stop_pid "$DAEMON_PID" "socketshark ($1)"
  stop_pid "$REDIS_PID" "redis-server ($1)"
  # Warnings and errors of the run, counted by message.
  if grep -q '"level":"\(error\|critical\)"' "$DAEMON_LOG" 2>/dev/null; then
    echo "socketshark ($1): error lines in $(basename "$DAEMON_LOG"):" >>"$ANOMALIES"
    grep '"level":"\(error\|critical\)"' "$DAEMON_LOG" | sed 's/.*"message":"\([^"]*\)".*/  \1/' | sort | uniq -c >>"$ANOMALIES"
  fi
}

# start_nchan NAME AUTH(0|1): nginx + nchan, memory store, one worker.
start_nchan() {
  local name=$1 auth=$2
  NCHAN_PORT=$("$BENCH" freeport)
  local dir=$WORK/nginx-$name
  mkdir -p "$dir/tmp"
  local authorize=""
  [ "$auth" = 1 ] && authorize="nchan_authorize_request /auth;"
  cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
user root;
worker_processes 1;
worker_rlimit_nofile $NGINX_FDS;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $NGINX_CONNS; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  nchan_shared_memory_size 512m;
  upstream callback { server 127.0.0.1:$CALLBACK_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NCHAN_PORT backlog=4096;
    location = /healthz { return 200 "ok"; }
    location ~ ^/sub/([\w.]+)\$ {
      nchan_subscriber websocket;
      nchan_channel_id \$1;
      nchan_subscriber_first_message newest;
      $authorize
    }
    location ~ ^/pub/([\w.]+)\$ {
      nchan_publisher http;
      nchan_channel_id \$1;
      nchan_message_buffer_length 10;
      nchan_message_timeout 60s;
    }
    location = /auth {
      internal;
      proxy_pass http://callback/auth/ticket/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
  }
}
EOF
  cp "$dir/nginx.conf" "$OUT/logs/nginx-$name.conf"
  "${SERVER[@]}" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/stderr.log" 2>&1 &
  NGINX_PID=$!
  NGINX_DIR=$dir
  STARTED+=("$NGINX_PID")
  if ! "$BENCH" wait-http --port "$NCHAN_PORT" --path /healthz --timeout 15; then
    log "nginx did not start:"; cat "$dir/stderr.log" "$dir/error.log" >&2; exit 1
  fi
}

stop_nchan() {
  stop_pid "$NGINX_PID" "nginx ($1)"
  cp "$NGINX_DIR/error.log" "$OUT/logs/nginx-$1.error.log" 2>/dev/null || true
}

# bench SCENARIO ARGS...: runs the load generator on the load CPU and keeps
# its one-line JSON result.
bench() {
  local line
  line=$("${LOAD[@]}" "$BENCH" "$@" 2>>"$OUT/logs/bench.stderr.log") || true
  if [ -z "$line" ]; then
    line="{\"scenario\":\"$1\",\"ok\":false,\"error\":\"the load generator failed (see logs/bench.stderr.log)\"}"
  fi
  echo "$line" >>"$RESULTS"
  echo "  $line" >&2
}

# ---------------------------------------------------------------- the run
# cpu_idle_pct: the least idle CPU's idle share over one second.
cpu_idle_pct() {
  local a b
  a=$(grep '^cpu[0-9]' /proc/stat)
  sleep 1
  b=$(grep '^cpu[0-9]' /proc/stat)
  paste <(echo "$a") <(echo "$b") | awk '{n = NF / 2; t = 0; for (i = 2; i <= n; i++) t += $(i + n) - $i;
    idle = ($(5 + n) - $5) + ($(6 + n) - $6); p = t ? 100 * idle / t : 100; if (NR == 1 || p < m) m = p} END {printf "%d", m}'
}
if [ "$WAIT_IDLE" -gt 0 ]; then
  for ((i = 0; i < WAIT_IDLE; i++)); do
    idle=$(cpu_idle_pct)
    [ "$idle" -ge 80 ] && break
    [ $((i % 30)) = 0 ] && log "waiting for the machine to be idle (least idle CPU: $idle %)"
  done
fi
START_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
IDLE_AT_START=$(cpu_idle_pct)
MACHINE="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -sr), $(free -g | awk '/Mem:/ {print $2}') GiB"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "results in $OUT; daemon: $DAEMON_VERSION; machine: $MACHINE; load average: $LOADAVG; least idle CPU $IDLE_AT_START % idle"

CALLBACK_PORT=$("$BENCH" freeport)
"${LOAD[@]}" "$BENCH" callback --port "$CALLBACK_PORT" --max-seconds 3600 2>>"$OUT/logs/callback.log" &
CALLBACK_PID=$!
STARTED+=("$CALLBACK_PID")
"$BENCH" wait-http --port "$CALLBACK_PORT" --path / --timeout 10 || { log "callback server did not start"; exit 1; }

log "self-test of the load generator"
bench selftest --seconds 2

for ((run = 1; run <= FAN_RUNS; run++)); do
  log "1. fan-out, socketshark, run $run/$FAN_RUNS"
  start_daemon "fanout-$run" 0 4194304
  bench fanout --server socketshark --ws-port "$WS_PORT" --redis-port "$REDIS_PORT" --pid "$DAEMON_PID" \
    --redis-pid "$REDIS_PID" --conns $FAN_CONNS --subs $FAN_SUBS --window $WINDOW --seconds $FAN_SECONDS --run "$run"
  stop_daemon "fanout-$run"
done

# 1b. The same fan-out with clients that read every 10 ms instead of at once:
# on loopback the server's core also pays for waking the reader and for its
# ACKs, which a client that reads in batches mostly spares it.
for ((run = 1; run <= FAN_RUNS; run++)); do
  log "1b. fan-out, socketshark, clients reading every 10 ms, run $run/$FAN_RUNS"
  start_daemon "fanout-batched-$run" 0 4194304
  bench fanout --server socketshark --ws-port "$WS_PORT" --redis-port "$REDIS_PORT" --pid "$DAEMON_PID" \
    --redis-pid "$REDIS_PID" --conns $FAN_CONNS --subs $FAN_SUBS --window $WINDOW --seconds $FAN_SECONDS --run "$run" \
    --read-interval-ms 10 --label batched
  stop_daemon "fanout-batched-$run"
done

PERF_SUMMARY=$OUT/perf-summary.txt
: >"$PERF_SUMMARY"
# perf_fanout NAME [FANOUT ARGS...]: one more fan-out run with perf attached
# to the daemon (perf stat, then perf record), summarised in perf-summary.txt.
perf_fanout() {
  local name=$1 job
  shift
  start_daemon "fanout-$name" 0 4194304
  bench fanout --server socketshark --ws-port "$WS_PORT" --redis-port "$REDIS_PORT" --pid "$DAEMON_PID" \
    --redis-pid "$REDIS_PID" --conns $FAN_CONNS --subs $FAN_SUBS --window $WINDOW \
    --seconds $((PERF_SECONDS * 2 + 2)) --label "$name" "$@" &
  job=$!
  sleep 2  # connections set up, warm-up done
  perf stat -e task-clock,context-switches,cycles,instructions,syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait \
    -p "$DAEMON_PID" -o "$OUT/$name-stat.txt" -- sleep "$PERF_SECONDS" >/dev/null 2>&1 || true
  perf record -F 1999 -p "$DAEMON_PID" -o "$WORK/$name.data" -- sleep "$PERF_SECONDS" >/dev/null 2>&1 || true
  wait "$job" || true
  stop_daemon "fanout-$name"
  {
    echo "== $name: fan-out $* =="
    echo "perf stat of the daemon for ${PERF_SECONDS} s:"
    grep -E '^ +[0-9]' "$OUT/$name-stat.txt" | sed 's/  */ /g' || true
    echo
    echo "cycles by DSO (perf record -F 1999, ${PERF_SECONDS} s):"
    perf report -i "$WORK/$name.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -6 || true
    echo
    echo "top symbols (self):"
    perf report -i "$WORK/$name.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -30 |
      sed -E 's/ +/ /g; s/boost::asio::/asio::/g; s/socketshark::/ss::/g' | cut -c1-200 || true
    echo
  } >>"$PERF_SUMMARY"
  cp "$WORK/$name.data" "$OUT/$name.data" 2>/dev/null || true
}
if [ "$WITH_PERF" = 1 ]; then
  log "1. fan-out, socketshark, under perf"
  perf_fanout perf
  log "1b. fan-out with clients reading every 10 ms, socketshark, under perf"
  perf_fanout perf-batched --read-interval-ms 10
fi

log "2a. latency, 100 msg/s x 100 subscribers"
start_daemon lat-100 0 4194304
bench latency --server socketshark --ws-port "$WS_PORT" --redis-port "$REDIS_PORT" --pid "$DAEMON_PID" \
  --metrics-port "$METRICS_PORT" --rate 100 --subscribers 100 --seconds $LAT_SECONDS
stop_daemon lat-100

log "2b. latency, 2,000 msg/s x 100 subscribers"
start_daemon lat-2000 0 4194304
bench latency --server socketshark --ws-port "$WS_PORT" --redis-port "$REDIS_PORT" --pid "$DAEMON_PID" \
  --metrics-port "$METRICS_PORT" --rate 2000 --subscribers 100 --seconds $LAT_SECONDS
stop_daemon lat-2000

log "3. connection storm, $STORM_CONNS connections with ticket auth"
start_daemon storm 1 4194304
bench storm --server socketshark --ws-port "$WS_PORT" --pid "$DAEMON_PID" --callback-pid "$CALLBACK_PID" --auth \
  --conns $STORM_CONNS --concurrency $STORM_CONCURRENCY
stop_daemon storm

log "4. idle memory, $IDLE_CONNS connections"
start_daemon idle 1 4194304
bench idle --server socketshark --ws-port "$WS_PORT" --pid "$DAEMON_PID" --auth --conns $IDLE_CONNS
stop_daemon idle

log "5. slow consumer, send_buffer_bytes 1 MiB"
start_daemon slow 0 1048576
bench latency --server socketshark --ws-port "$WS_PORT" --redis-port "$REDIS_PORT" --pid "$DAEMON_PID" \
  --metrics-port "$METRICS_PORT" --rate 2000 --subscribers 100 --seconds $SLOW_SECONDS --slow
stop_daemon slow

if [ "$WITH_NCHAN" = 1 ]; then
  for ((run = 1; run <= FAN_RUNS; run++)); do
    log "6. nchan: fan-out, run $run/$FAN_RUNS"
    start_nchan "fanout-$run" 0
    bench fanout --server nchan --ws-port "$NCHAN_PORT" --pid "$NGINX_PID" --conns $FAN_CONNS --subs $FAN_SUBS \
      --window $WINDOW --seconds $FAN_SECONDS --run "$run"
    stop_nchan "fanout-$run"
  done
  for ((run = 1; run <= FAN_RUNS; run++)); do
    log "6. nchan: fan-out, clients reading every 10 ms, run $run/$FAN_RUNS"
    start_nchan "fanout-batched-$run" 0
    bench fanout --server nchan --ws-port "$NCHAN_PORT" --pid "$NGINX_PID" --conns $FAN_CONNS --subs $FAN_SUBS \
      --window $WINDOW --seconds $FAN_SECONDS --run "$run" --read-interval-ms 10 --label batched
    stop_nchan "fanout-batched-$run"
  done
  log "6. nchan: latency 100 msg/s"
  start_nchan lat-100 0
  bench latency --server nchan --ws-port "$NCHAN_PORT" --pid "$NGINX_PID" --rate 100 --subscribers 100 --seconds $LAT_SECONDS
  stop_nchan lat-100
  log "6. nchan: latency 2,000 msg/s"
  start_nchan lat-2000 0
  bench latency --server nchan --ws-port "$NCHAN_PORT" --pid "$NGINX_PID" --rate 2000 --subscribers 100 --seconds $LAT_SECONDS
  stop_nchan lat-2000
  log "6. nchan: connection storm (nchan_authorize_request to the callback service)"
  start_nchan storm 1
  bench storm --server nchan --ws-port "$NCHAN_PORT" --pid "$NGINX_PID" --callback-pid "$CALLBACK_PID" \
    --conns $STORM_CONNS --concurrency $STORM_CONCURRENCY
  stop_nchan storm
  log "6. nchan: idle memory"
  start_nchan idle 1
  bench idle --server nchan --ws-port "$NCHAN_PORT" --pid "$NGINX_PID" --conns $IDLE_CONNS
  stop_nchan idle
fi

stop_pid "$CALLBACK_PID" "callback server"

COMMAND="bench/run.sh${ARGS:+ $ARGS}"
"$BENCH" report --in "$RESULTS" --json "$OUT/results.json" --md "$OUT/table.md" --date "$START_TIME" \
  --command "$COMMAND" --machine "$MACHINE; daemon: $DAEMON_VERSION; load average at the start $LOADAVG" --perf "$PERF_SUMMARY" >/dev/null
echo
echo "## socketshark-cpp benchmarks, $START_TIME"
echo
echo "Command: \`$COMMAND\`; daemon: $DAEMON_VERSION; machine: $MACHINE; at the start: load average $LOADAVG, least idle CPU $IDLE_AT_START % idle."
echo
cat "$OUT/table.md"
if [ -s "$PERF_SUMMARY" ]; then
  echo
  echo '```'
  cat "$PERF_SUMMARY"
  echo '```'
fi
if [ -s "$ANOMALIES" ]; then
  echo
  echo "Anomalies:"
  sed 's/^/    /' "$ANOMALIES"
fi
echo
echo "Files: $OUT/results.json, $OUT/results.jsonl, $OUT/table.md, $OUT/perf-summary.txt, $OUT/logs/"
