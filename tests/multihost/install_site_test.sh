#!/usr/bin/env bash
# Runs deploy/systemd/install-site.sh for real (as root, not --root) inside a
# private mount namespace whose /etc, /usr/local, /var/lib, /var/log and /srv
# are overlays on temporary folders, so the machine itself is untouched: the
# user `fedrad` is created, files get their owners and modes, and then, as
# that user, `fedrad-site --check` must pass every step against a coordinator
# on loopback. Also asserts the permission model the unit relies on: the key
# is readable by `fedrad` only, the data folder is not writable by it.
# (systemd itself is not started: these machines have no systemd as PID 1;
# the unit is checked with systemd-analyze verify where the binary now is.)
#
#   tests/multihost/install_site_test.sh BIN_DIR SOURCE_DIR      (as root)
#
# Exit 0 pass, 1 fail, 77 skipped (not root, no unshare/overlayfs).
set -euo pipefail

bin="$(cd "${1:?usage: install_site_test.sh BIN_DIR SOURCE_DIR}" && pwd)"
src="$(cd "${2:?usage: install_site_test.sh BIN_DIR SOURCE_DIR}" && pwd)"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ "${FEDRAD_IN_MOUNT_NS:-}" != 1 ]; then
  [ "$(id -u)" -eq 0 ] || skip "needs root (it installs a system user, inside a private mount namespace)"
  for tool in unshare runuser useradd; do
    command -v "$tool" >/dev/null 2>&1 || skip "needs $tool"
  done
  for b in fedrad fedrad-site fedrad-coordinator; do
    [ -x "$bin/$b" ] || fail "$bin/$b is missing (build it first)"
  done
  work="$(mktemp -d /tmp/fedrad-install.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
  chmod 0755 "$work"
  if ! unshare --mount --propagation private true 2>/dev/null; then
    skip "cannot create a mount namespace (unshare --mount refused)"
  fi
  rc=0
  FEDRAD_IN_MOUNT_NS=1 FEDRAD_WORK="$work" \
    unshare --mount --propagation private bash "$0" "$bin" "$src" || rc=$?
  exit "$rc"
fi

# ---- inside the private mount namespace --------------------------------------
work="$FEDRAD_WORK"
for d in etc usr/local var/lib var/log srv; do
  [ -d "/$d" ] || skip "/$d does not exist"
  mkdir -p "$work/ov/$d/up" "$work/ov/$d/work"
  mount -t overlay overlay \
    -o "lowerdir=/$d,upperdir=$work/ov/$d/up,workdir=$work/ov/$d/work" "/$d" 2>/dev/null ||
    skip "cannot mount an overlay on /$d"
done
getent passwd fedrad >/dev/null && skip "a user fedrad already exists on this machine"

coord_pid=""
cleanup() { [ -z "$coord_pid" ] || kill "$coord_pid" 2>/dev/null || true; }
trap cleanup EXIT

echo "== the study CA and a coordinator on loopback"
ca="$work/ca"
"$bin/fedrad" pki init --ca-dir "$ca" > /dev/null
"$bin/fedrad" pki issue --ca-dir "$ca" --cn coordinator --role coordinator --out-dir "$work/coord" > /dev/null
cat > "$work/coordinator.textproto" <<EOF
listen_address: "127.0.0.1:0"
port_file: "$work/port"
tls {
  ca_cert: "$ca/ca.crt"
  cert: "$work/coord/coordinator.crt"
  key: "$work/coord/coordinator.key"
  crl: "$ca/crl.pem"
}
data_dir: "$work/coord-data"
audit_log: "$work/coord-audit/coordinator.log"
EOF
"$bin/fedrad-coordinator" --config "$work/coordinator.textproto" > "$work/coord.log" 2>&1 &
coord_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/coord.log"; fail "the coordinator did not start"; }
port="$(tr -d '\n' < "$work/port")"

echo "== install-site.sh (real install: user, owners, modes)"
"$src/deploy/systemd/install-site.sh" --site-id S1 --coordinator "127.0.0.1:$port" \
  --bin-dir "$bin" --enrol
getent passwd fedrad | grep -q ':/var/lib/fedrad:/usr/sbin/nologin$' ||
  fail "user fedrad not created as a system user without a login shell"
expect_mode() {  # expect_mode PATH MODE OWNER:GROUP
  local got
  got="$(stat -c '%a %U:%G' "$1")"
  [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}
expect_mode /var/lib/fedrad/tls/site.key 600 fedrad:fedrad
expect_mode /var/lib/fedrad/tls 700 fedrad:fedrad
expect_mode /var/lib/fedrad/audit 700 fedrad:fedrad
expect_mode /etc/fedrad/site.textproto 640 root:fedrad
expect_mode /srv/fedrad/data 750 root:fedrad

echo "== enrolment: sign the site's CSR at the CA, install the certificate"
"$bin/fedrad" pki sign --ca-dir "$ca" --csr /var/lib/fedrad/tls/site.csr --out "$work/S1.crt" \
  --expect-cn S1 --expect-role site < /dev/null > /dev/null
install -o fedrad -g fedrad -m 0644 "$work/S1.crt" /var/lib/fedrad/tls/site.crt
install -o fedrad -g fedrad -m 0644 "$ca/ca.crt" "$ca/crl.pem" /var/lib/fedrad/tls/
{
  echo "patient_id,age"
  for i in $(seq 1 20); do echo "P$i,$((40 + i))"; done
} > /srv/fedrad/data/cohort.csv
chgrp fedrad /srv/fedrad/data/cohort.csv
chmod 0640 /srv/fedrad/data/cohort.csv

echo "== fedrad-site --check as the service user"
rc=0
(cd / && runuser -u fedrad -- /usr/local/bin/fedrad-site --config /etc/fedrad/site.textproto --check) \
  > "$work/check.txt" 2>&1 || rc=$?
cat "$work/check.txt"
[ "$rc" -eq 0 ] || fail "--check as fedrad exited $rc"
for step in config data storage key cert ca dns tcp tls protocol; do
  grep -q "^\[ OK \] $step " "$work/check.txt" || fail "step $step did not pass"
done

echo "== the permission model"
if runuser -u nobody -- cat /var/lib/fedrad/tls/site.key > /dev/null 2>&1; then
  fail "another user can read the site's key"
fi
if runuser -u fedrad -- touch /srv/fedrad/data/written-by-fedrad 2>/dev/null; then
  fail "the service user can write into the data folder"
fi
runuser -u fedrad -- cat /srv/fedrad/data/cohort.csv > /dev/null || fail "fedrad cannot read the data"

if command -v systemd-analyze >/dev/null 2>&1; then
  echo "== systemd-analyze verify on the installed unit"
  systemd-analyze verify /etc/systemd/system/fedrad-site.service || fail "the installed unit does not verify"
fi
echo "PASS: real install, enrolment, --check as fedrad (10/10 OK), key private, data read-only"
