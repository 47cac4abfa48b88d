#!/usr/bin/env bash
# Courier's developer entry point: the README's two quick-start commands.
#
#   ./dev.sh run    install missing Debian packages, build (Release), start `courier serve`
#                   on the embedded default (SQLite under ./var/, config deploy/courier.yaml)
#   ./dev.sh test   install, build, and run every test: unit + integration (Release, g++),
#                   then the unit tests and fuzz-corpus replays under ASan+UBSan (clang)
#   ./dev.sh deps   only install what is missing
#   ./dev.sh build  only build (Release) into build/
#
# Environment: JOBS (parallel jobs, default: number of cores).
set -euo pipefail
cd "$(dirname "$0")"
JOBS=${JOBS:-$(nproc)}

# Debian 12 packages Courier builds and tests with (DESIGN.md: no downloads at build time).
PACKAGES=(
  g++ clang libclang-rt-14-dev cmake ninja-build pkg-config make git openssl ca-certificates
  libboost-dev libssl-dev rapidjson-dev libspdlog-dev libyaml-cpp-dev libsqlite3-dev sqlite3
  zlib1g-dev libpq-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  postgresql  # the server (initdb, postgres): tests/integration/postgres starts its own
  python3 python3-jsonschema
)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node + npm run the 837P check with node-x12 (tests/integration/claims). Checked as commands:
  # a NodeSource nodejs bundles npm and conflicts with Debian's npm package, so asking dpkg for
  # "npm" there would replace a working node.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
  if ((${#missing[@]} == 0)); then return 0; fi
  echo "dev.sh: installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C build -j "$JOBS"
}

test_all() {
  build
  echo "== unit and integration tests (Release, g++)"
  ctest --test-dir build -j "$JOBS" --output-on-failure --timeout 600
  echo "== unit tests and fuzz-corpus replays under AddressSanitizer + UndefinedBehaviorSanitizer (clang)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCOURIER_SANITIZE=ON -DCOURIER_FUZZ=ON -DCOURIER_BENCH=OFF >/dev/null
  ninja -C build-asan -j "$JOBS"
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/sanitizers/ubsan.supp \
    ASAN_OPTIONS=detect_leaks=1 \
    ctest --test-dir build-asan -j "$JOBS" -L 'unit|fuzz' --output-on-failure --timeout 600
}

run() {
  build
  mkdir -p var
  exec ./build/cli/courier serve --config deploy/courier.yaml --data-dir var
}

case "${1:-}" in
  deps) deps ;;
  build) deps && build ;;
  test) deps && test_all ;;
  run) deps && run ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
