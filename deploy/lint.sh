#!/usr/bin/env bash
# Lints everything in deploy/ with the tools Debian 12 offers, without a
# container engine or a cluster. Each check prints ok/FAIL/SKIP; a missing
# tool is a SKIP that names the package to install.
#
#   deploy/lint.sh [BIN_DIR]     # BIN_DIR: built fedrad binaries (default build/bin)
#
#   apt-get install yamllint shellcheck docker-compose   # optional, for full coverage
#
# Exit: 0 all checks that ran passed; 1 a check failed; 77 no check could run.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin_dir="${1:-$repo/build/bin}"
if [ -d "$bin_dir" ]; then bin_dir="$(cd "$bin_dir" && pwd)"; fi   # systemd wants absolute paths
failed=0 ran=0

ok() { echo "ok   $*"; ran=$((ran + 1)); }
fail() { echo "FAIL $*"; failed=1; ran=$((ran + 1)); }
skip() { echo "SKIP $*"; }
have() { command -v "$1" >/dev/null 2>&1; }
run() {  # run NAME CMD...: ok/FAIL with the output on failure
  local name="$1" out
  shift
  if out="$("$@" 2>&1)"; then
    ok "$name"
  else
    fail "$name"
    echo "     ${out//$'\n'/$'\n'     }"
  fi
}

# YAML: compose file, Kubernetes manifests.
if have yamllint; then
  run "yamllint deploy/" yamllint -s -c "$here/.yamllint" "$here"
else
  skip "yamllint (apt-get install yamllint)"
fi

# Compose file schema (docker-compose 1.29 validates without a daemon).
if have docker-compose; then
  run "docker-compose config (compose schema)" \
    docker-compose -f "$here/compose/compose.yaml" --project-directory "$here/compose" config -q
else
  skip "compose schema (apt-get install docker-compose)"
fi

# Kubernetes manifests: cross-references and security settings.
if python3 -c 'import yaml' 2>/dev/null; then
  run "check-k8s.py deploy/k8s" python3 "$here/check-k8s.py" "$here/k8s"
else
  skip "check-k8s.py (apt-get install python3-yaml)"
fi

# Shell scripts.
mapfile -t scripts < <(find "$here" "$repo/tests/multihost" -name '*.sh' 2>/dev/null | sort)
for s in "${scripts[@]}"; do
  run "bash -n ${s#"$repo"/}" bash -n "$s"
done
if have shellcheck; then
  run "shellcheck (${#scripts[@]} scripts)" shellcheck "${scripts[@]}"
else
  skip "shellcheck (apt-get install shellcheck)"
fi

# systemd unit: verify with ExecStart pointing at an existing binary (the unit
# names /usr/local/bin/fedrad-site, which exists only once installed), then
# the hardening score.
if have systemd-analyze; then
  exe="$bin_dir/fedrad-site"
  [ -x "$exe" ] || exe="$(command -v true)"
  tmp="$(mktemp -d)"
  sed "s|/usr/local/bin/fedrad-site|$exe|" "$here/systemd/fedrad-site.service" \
    > "$tmp/fedrad-site.service"
  run "systemd-analyze verify fedrad-site.service" systemd-analyze verify "$tmp/fedrad-site.service"
  score="$(systemd-analyze security --offline=true "$tmp/fedrad-site.service" 2>/dev/null |
           sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
  if [ -z "$score" ]; then
    skip "systemd-analyze security (no --offline support)"
  elif awk "BEGIN { exit !($score <= 2.0) }"; then
    ok "systemd-analyze security: exposure $score (<= 2.0)"
  else
    fail "systemd-analyze security: exposure $score (> 2.0)"
  fi
  rm -rf "$tmp"
else
  skip "systemd-analyze (apt-get install systemd)"
fi

# Dockerfile: no Debian package lints Dockerfiles; use dockerfile-utils from
# the npm registry when it is installed (npm install -g dockerfile-utils).
if have dockerfile-utils; then
  run "dockerfile-utils lint deploy/Dockerfile" dockerfile-utils lint "$here/Dockerfile"
else
  skip "Dockerfile lint (no Debian package; npm install -g dockerfile-utils)"
fi

# Runtime image package list vs the libraries the binaries load.
bins=()
for b in fedrad fedrad-site fedrad-coordinator; do
  [ -x "$bin_dir/$b" ] && bins+=("$bin_dir/$b")
done
if [ "${#bins[@]}" -gt 0 ] && have dpkg && have apt-cache; then
  run "runtime-packages.txt covers ${#bins[@]} binaries" "$here/check-runtime-deps.sh" "${bins[@]}"
else
  skip "runtime packages (build the binaries first: $bin_dir)"
fi

if [ "$ran" -eq 0 ]; then
  echo "no check could run"
  exit 77
fi
[ "$failed" -eq 0 ] && echo "deploy lint: all checks passed" || echo "deploy lint: FAILED"
exit "$failed"
