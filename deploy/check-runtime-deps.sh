#!/usr/bin/env bash
# Checks that the runtime image's package list (deploy/runtime-packages.txt)
# provides every shared library the fedrad binaries load, without a container
# engine: maps each library `ldd` resolves on this (Debian 12) machine to its
# Debian package with `dpkg -S`, then checks that package is in the list, in
# the dependency closure of the list (`apt-cache depends --recurse`), or
# Essential/required (always in debian:bookworm).
#
#   deploy/check-runtime-deps.sh build/bin/fedrad build/bin/fedrad-site build/bin/fedrad-coordinator
#
# Exit 0: every library is covered. 1: a package is missing (named). 2: usage.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
list="${RUNTIME_PACKAGES:-$here/runtime-packages.txt}"
if [ "$#" -eq 0 ]; then
  echo "usage: $0 BINARY..." >&2
  exit 2
fi
for tool in ldd dpkg apt-cache; do
  command -v "$tool" >/dev/null || { echo "$0: needs $tool (Debian)" >&2; exit 2; }
done

mapfile -t listed < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')

declare -A needed=()   # package -> library names
declare -A lib_bins=()  # library path -> 1
for bin in "$@"; do
  [ -x "$bin" ] || { echo "$0: not an executable: $bin" >&2; exit 2; }
  if ldd "$bin" | grep -q 'not found'; then
    echo "FAIL $bin: libraries not found on this machine:" >&2
    ldd "$bin" | grep 'not found' >&2
    exit 1
  fi
  while read -r lib; do
    lib_bins["$lib"]=1
  done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
done

# Which package owns each library: one dpkg -S for all of them (merged /usr:
# a path dpkg does not know is tried again with /usr added or removed).
declare -A owner=()
lookup() {
  [ "$#" -gt 0 ] || return 0
  local line pkg path
  while IFS= read -r line; do
    pkg="${line%%: *}"
    path="${line#*: }"
    pkg="${pkg%%,*}"
    owner["$path"]="${pkg%%:*}"
  done < <(dpkg -S "$@" 2>/dev/null | grep -v '^diversion')
}
lookup "${!lib_bins[@]}"
retry=()
for lib in "${!lib_bins[@]}"; do
  if [ -z "${owner[$lib]:-}" ]; then
    case "$lib" in
      /usr/*) retry+=("${lib#/usr}") ;;
      *) retry+=("/usr$lib") ;;
    esac
  fi
done
lookup "${retry[@]}"
for lib in "${!lib_bins[@]}"; do
  case "$lib" in
    /usr/*) alt="${lib#/usr}" ;;
    *) alt="/usr$lib" ;;
  esac
  pkg="${owner[$lib]:-${owner[$alt]:-}}"
  if [ -z "$pkg" ]; then
    echo "FAIL $lib belongs to no Debian package (built by hand?)" >&2
    exit 1
  fi
  needed["$pkg"]+=" $(basename "$lib")"
done

# The list plus everything it depends on (Depends and PreDepends only).
declare -A closure=()
while read -r p; do
  closure["${p%%:*}"]=1
done < <(apt-cache depends --recurse --no-recommends --no-suggests \
           --no-conflicts --no-breaks --no-replaces --no-enhances \
           "${listed[@]}" | grep -v '^ ' | grep -v '^<')

# "libfoo.so.1 libbar.so.2 (+3 more)": distinct library names, at most four.
libs_of() {
  local -a libs
  mapfile -t libs < <(tr ' ' '\n' <<< "${needed[$1]}" | grep -v '^$' | sort -u)
  if [ "${#libs[@]}" -gt 4 ]; then
    echo "${libs[*]:0:4} (+$(( ${#libs[@]} - 4 )) more)"
  else
    echo "${libs[*]}"
  fi
}

missing=0
for pkg in $(printf '%s\n' "${!needed[@]}" | sort); do
  base="${pkg%%:*}"
  needed[$pkg]="$(libs_of "$pkg")"
  if [ -n "${closure[$base]:-}" ]; then
    echo "ok   $base (${needed[$pkg]})"
  elif apt-cache show "$base" 2>/dev/null | grep -qE '^(Essential: yes|Priority: required)'; then
    echo "ok   $base (in the base image: ${needed[$pkg]})"
  else
    echo "MISSING $base, needed for: ${needed[$pkg]} -> add it to $list"
    missing=1
  fi
done
exit "$missing"
