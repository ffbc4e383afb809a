#!/usr/bin/env bash
# fedrad quick start. On a fresh Debian 12 machine, as root:
#   ./quickstart.sh demo   installs what is missing, builds, runs the demo study
#   ./quickstart.sh test   installs what is missing, builds with -DFEDRAD_WERROR=ON (a
#                          compiler warning fails the build), runs every test, then
#                          every fuzz target on its committed corpus, a fixed seed and
#                          count, about 20 s each (tests/fuzz/run.sh ci; FEDRAD_FUZZ_SECONDS=N
#                          runs N random seconds each instead, 0 skips them)
#   ./quickstart.sh build  installs what is missing and builds only
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libinsighttoolkit5-dev libdcmtk-dev libdeflate-dev libfftw3-dev libeigen3-dev libabsl-dev libre2-dev libssl-dev libsqlite3-dev
  libboost-math-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev iproute2 chromium python3 python3-yaml yamllint shellcheck
  clang libclang-rt-14-dev)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# build [TARGET...]: configure build/ and build the targets (default: everything).
# CMAKE_ARGS (an array) adds configure options; warnings are errors only in `test`.
CMAKE_ARGS=(-DFEDRAD_WERROR=OFF)
build() {
  echo "==> configuring and building (build/)"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${CMAKE_ARGS[@]}" >/dev/null
  if [ $# -gt 0 ]; then
    cmake --build build -j "$(nproc)" --target "$@"
  else
    cmake --build build -j "$(nproc)"
  fi
}

case "${1:-}" in
  demo)
    install_missing
    build fedrad fedrad-site fedrad-coordinator
    shift
    exec build/bin/fedrad demo --out demo-output "$@"
    ;;
  test)
    install_missing
    # The fuzz targets' clang build (build-fuzz/, issue 17) runs beside the
    # main build and the tests at the lowest priority: it takes only the CPU
    # they leave idle (the integration tests wait on their processes about
    # half the time), so it is mostly done when the tests are.
    fuzz_build_pid=""
    if [ "${FEDRAD_FUZZ_SECONDS:-ci}" != 0 ]; then
      echo "==> building the fuzz targets in the background (build-fuzz/, nice 19)"
      mkdir -p build-fuzz
      # Its own process group (set -m), so that an early exit stops the
      # compilers too; the same session, so nice orders it after the rest.
      set -m
      nice -n 19 tests/fuzz/run.sh build >build-fuzz/prebuild.log 2>&1 &
      fuzz_build_pid=$!
      set +m
      trap '[ -z "$fuzz_build_pid" ] || kill -- "-$fuzz_build_pid" 2>/dev/null || true' EXIT
    fi
    # CI: a new compiler warning in fedrad's own code fails the build.
    CMAKE_ARGS=(-DFEDRAD_WERROR=ON)
    build
    echo "==> running the test suite"
    (cd build && ctest --output-on-failure -j "$(nproc)" --timeout 900)
    # The fuzz targets as a regression check: each target on its committed
    # corpus, a fixed seed and count per target (about 20 s each), so that
    # the check is repeatable; FEDRAD_FUZZ_SECONDS=N runs N random seconds
    # each instead, 0 skips them (and their build).
    if [ -n "$fuzz_build_pid" ]; then
      echo "==> waiting for the fuzz targets' build"
      if ! wait "$fuzz_build_pid"; then
        fuzz_build_pid=""
        tail -50 build-fuzz/prebuild.log >&2
        exit 1
      fi
      fuzz_build_pid=""
    fi
    case "${FEDRAD_FUZZ_SECONDS:-ci}" in
      0) ;;
      ci)
        echo "==> fuzz targets, fixed seed and count, about 20 s each (build-fuzz/)"
        tests/fuzz/run.sh ci
        ;;
      *)
        echo "==> fuzz targets, ${FEDRAD_FUZZ_SECONDS} s each (build-fuzz/)"
        tests/fuzz/run.sh all "${FEDRAD_FUZZ_SECONDS}"
        ;;
    esac
    ;;
  build)
    install_missing
    build
    ;;
  *)
    echo "usage: $0 demo|test|build" >&2
    exit 2
    ;;
esac
