#!/usr/bin/env bash
# Configures and builds one flavour of mailsift with CMake + Ninja.
#
#   scripts/build.sh [release|asan|fuzz] [ninja targets...]
#
#   release  build/       g++, RelWithDebInfo -O2 -g1 (the one README commands and benchmarks use)
#   asan     build-asan/  g++, -DMAILSIFT_SANITIZE=ON (AddressSanitizer + UBSan), -O1 -g1
#   fuzz     build-fuzz/  clang, -DMAILSIFT_FUZZ=ON -DMAILSIFT_TESTS=OFF (libFuzzer targets)
#
# Debug info is -g1 (line tables): enough for symbolised sanitizer reports, backtraces and perf,
# and about a third faster to compile than full -g. Set MAILSIFT_DEBUG_INFO=-g for variables in gdb.
# When ccache is installed (scripts/deps.sh installs it) every flavour compiles through it, with
# CCACHE_BASEDIR at the repository so clones at other paths share hits; MAILSIFT_CCACHE=0 turns
# it off. A cold cache builds exactly as without it.
#
# With no targets, builds everything; the target "fuzzers" means every libFuzzer target. MAILSIFT_BUILD_ROOT moves the three directories
# (scripts/common.sh); MAILSIFT_JOBS overrides -j (default: nproc); MAILSIFT_CMAKE_ARGS adds
# configure arguments.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

flavour="${1:-release}"
(($# > 0)) && shift
dir="$(build_dir "$flavour")" || exit 2

debug_info="${MAILSIFT_DEBUG_INFO:--g1}"
args=(-G Ninja -S "$MAILSIFT_ROOT" -B "$dir")
if [[ "${MAILSIFT_CCACHE:-1}" != 0 ]] && command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$MAILSIFT_ROOT}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
else
  # An earlier configure may have cached the launcher; clear it so MAILSIFT_CCACHE=0 holds.
  args+=(-UCMAKE_CXX_COMPILER_LAUNCHER -UCMAKE_C_COMPILER_LAUNCHER)
fi
case "$flavour" in
  release)
    args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 $debug_info -DNDEBUG"
           "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 $debug_info -DNDEBUG"
           -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
           -DMAILSIFT_SANITIZE=OFF -DMAILSIFT_FUZZ=OFF -DMAILSIFT_TESTS=ON)
    ;;
  asan)
    # -O1 keeps sanitizer builds fast to compile and run while still giving usable stacks.
    args+=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-O1 $debug_info"
           "-DCMAKE_CXX_FLAGS_DEBUG=-O1 $debug_info" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
           -DMAILSIFT_SANITIZE=ON -DMAILSIFT_FUZZ=OFF -DMAILSIFT_TESTS=ON)
    ;;
  fuzz)
    args+=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-O1 $debug_info"
           "-DCMAKE_CXX_FLAGS_DEBUG=-O1 $debug_info" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
           -DMAILSIFT_SANITIZE=OFF -DMAILSIFT_FUZZ=ON -DMAILSIFT_TESTS=OFF)
    ;;
esac
# shellcheck disable=SC2206  # word splitting of extra arguments is intended
[[ -n "${MAILSIFT_CMAKE_ARGS:-}" ]] && args+=(${MAILSIFT_CMAKE_ARGS})

jobs="${MAILSIFT_JOBS:-$(nproc)}"
log "configure $flavour in $dir"
cmake "${args[@]}"
# "fuzzers" stands for every libFuzzer target the configure step listed in fuzzers.txt.
if [[ "${1:-}" == fuzzers ]]; then
  shift
  mapfile -t fuzzers < <(cut -d'|' -f1 "$dir/fuzzers.txt" 2>/dev/null | sed '/^$/d')
  if ((${#fuzzers[@]} == 0)) && (($# == 0)); then
    log "no fuzz targets in $dir/fuzzers.txt; nothing to build"
    exit 0
  fi
  set -- "${fuzzers[@]}" "$@"
fi
log "build $flavour (-j$jobs)${*:+: $*}"
targets=()
(($# > 0)) && targets=(--target "$@")
cmake --build "$dir" -j "$jobs" "${targets[@]}"
