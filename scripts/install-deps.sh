#!/usr/bin/env bash
# Installs what socketshark-cpp needs on Debian 12, idempotently (packages
# already present are skipped). README, .ci/run and docker/Dockerfile all
# use this one script.
#   scripts/install-deps.sh            build the daemon (compiler, libraries)
#   scripts/install-deps.sh --test     also everything the test suite uses
#   scripts/install-deps.sh --fuzz     also clang and libFuzzer (tests/fuzz/run.sh)
#   scripts/install-deps.sh --runtime  only the shared libraries the binary needs
# --test and --fuzz combine.
set -euo pipefail

build_packages=(
  g++ cmake ninja-build pkg-config ccache git ca-certificates
  libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  libhiredis-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  prometheus-cpp-dev libssl-dev libcpp-jwt-dev
  libgtest-dev libgmock-dev googletest
)
test_packages=(
  # a real redis-server; real WebSocket/HTTP peers in Debian's Python
  redis-server redis-tools openssl procps
  python3 python3-pytest python3-websockets python3-aiohttp python3-redis python3-jwt python3-yaml
  # the browser client's tests: headless Chromium driven by playwright-core
  chromium
)
runtime_packages=(
  libboost-system1.81.0 libboost-url1.81.0 libhiredis0.14 libyaml-cpp0.7
  libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libssl3 ca-certificates
)

fuzz_packages=(clang-14 libclang-rt-14-dev)

usage() { echo "usage: $0 [--test] [--fuzz] | --runtime" >&2; exit 2; }
packages=("${build_packages[@]}")
if [[ "${1:-}" == --runtime ]]; then
  (($# == 1)) || usage
  packages=("${runtime_packages[@]}")
else
  for option in "$@"; do
    case "$option" in
      --test)
        packages+=("${test_packages[@]}")
        # Node.js with npm: the machine's own when present, else Debian's.
        command -v npm >/dev/null || packages+=(nodejs npm)
        ;;
      --fuzz) packages+=("${fuzz_packages[@]}") ;;
      *) usage ;;
    esac
  done
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then echo "install-deps: all ${#packages[@]} packages present"; exit 0; fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
