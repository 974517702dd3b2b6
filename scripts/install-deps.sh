#!/usr/bin/env bash
# Installs everything socketshark-cpp needs to build, test and run on Debian 12.
# Idempotent: packages already present are skipped by apt. Used by README,
# .ci/run and docker/Dockerfile alike.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --runtime  only the shared libraries the binary needs
set -euo pipefail

build_packages=(
  g++ cmake ninja-build pkg-config ccache git ca-certificates
  libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  libhiredis-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  prometheus-cpp-dev libssl-dev libcpp-jwt-dev
  libgtest-dev libgmock-dev googletest
  # integration tests: a real redis-server, real WebSocket/HTTP peers in Python
  redis-server redis-tools openssl procps
  python3 python3-pytest python3-websockets python3-aiohttp python3-redis python3-jwt python3-yaml
)
runtime_packages=(
  libboost-system1.81.0 libboost-url1.81.0 libhiredis0.14 libyaml-cpp0.7
  libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libssl3 ca-certificates
)

if [[ "${1:-}" == "--runtime" ]]; then packages=("${runtime_packages[@]}"); else packages=("${build_packages[@]}"); fi

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
