#!/usr/bin/env bash
# The README's test command: dependencies, build, services, then every test (unit and
# integration) against the real Postgres, Kafka and Redis. Exits non-zero on any failure.
#
#   ./scripts/test.sh              # the whole suite
#   SLUICE_SANITIZE=1 ./scripts/test.sh   # also build with ASan/UBSan and run the unit tests
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
./scripts/install-deps.sh

step "build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build

step "format"
# Our sources only (no build output, no third-party code in the repo).
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find . -path ./build -prune -o -name '*.[ch]pp' -print)
if [ "${#sources[@]}" -gt 0 ]; then
  clang-format --dry-run --Werror "${sources[@]}"
fi
echo "clang-format: ${#sources[@]} files clean"

if [ "${SLUICE_SANITIZE:-0}" = 1 ]; then
  step "unit tests under ASan/UBSan"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON >/dev/null
  cmake --build build-asan --target unit_tests
  ./build-asan/bin/unit_tests
fi

step "services"
./scripts/services.sh up
eval "$(./scripts/services.sh env)"

step "tests"
ctest --test-dir build --output-on-failure --timeout 1800
