#!/usr/bin/env bash
# Runs the runtime stage of deploy/Dockerfile without a container engine: in
# a debootstrap'ed Debian 12 (minbase) chroot it installs exactly
# deploy/runtime-packages.txt (--no-install-recommends), creates the user
# fedrad (uid 10001) and the image's folders, copies the three binaries, fails
# if `ldd` finds a missing library, then, as uid 10001 inside the chroot, runs
# `fedrad version`, a coordinator on 127.0.0.1 and `fedrad-site --check`
# against it (every step must pass).
#
#   sudo debootstrap --variant=minbase bookworm /tmp/fedrad-rootfs http://deb.debian.org/debian
#   sudo deploy/rootfs-smoke.sh /tmp/fedrad-rootfs build/bin
#
# The chroot is modified (packages, user, /opt/fedrad-smoke); use a throwaway
# one. Exit 0 pass, 1 fail, 2 usage.
set -euo pipefail

root="${1:?usage: rootfs-smoke.sh ROOTFS BIN_DIR}"
bin="$(cd "${2:?usage: rootfs-smoke.sh ROOTFS BIN_DIR}" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "rootfs-smoke.sh: run as root (chroot)" >&2; exit 2; }
[ -x "$root/bin/bash" ] || { echo "rootfs-smoke.sh: $root is not a Debian root" >&2; exit 2; }
grep -q 'VERSION_ID="12"' "$root/etc/os-release" || { echo "rootfs-smoke.sh: $root is not Debian 12" >&2; exit 2; }

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
as_fedrad() { chroot --userspec=10001:10001 "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin "$@"; }

echo "== packages (deploy/runtime-packages.txt)"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$here/runtime-packages.txt" "$root/tmp/runtime-packages.txt"
in_root bash -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
  sed -e "s/#.*//" /tmp/runtime-packages.txt | xargs apt-get install -y -qq --no-install-recommends' \
  > "$root/tmp/apt.log" 2>&1 || { tail -20 "$root/tmp/apt.log"; echo "FAIL: apt-get install"; exit 1; }

echo "== user and folders, as in the Dockerfile"
in_root bash -c 'getent group fedrad >/dev/null || groupadd --system --gid 10001 fedrad
  getent passwd fedrad >/dev/null || useradd --system --uid 10001 --gid fedrad \
    --home-dir /var/lib/fedrad --no-create-home --shell /usr/sbin/nologin fedrad
  install -d -o root -g fedrad -m 0750 /etc/fedrad
  install -d -o fedrad -g fedrad -m 0750 /var/lib/fedrad
  install -d -o fedrad -g fedrad -m 0700 /var/lib/fedrad/tls /var/lib/fedrad/audit \
    /var/lib/fedrad/output /var/lib/fedrad/state
  install -d -o root -g fedrad -m 0750 /srv/fedrad/data'
install -m 0755 "$bin/fedrad" "$bin/fedrad-site" "$bin/fedrad-coordinator" "$root/usr/local/bin/"
if in_root bash -c 'ldd /usr/local/bin/fedrad*' | grep 'not found'; then
  echo "FAIL: missing runtime library: add its package to deploy/runtime-packages.txt"
  exit 1
fi
echo "ok   ldd: every library found"

echo "== as uid 10001: version, a coordinator and a site check on 127.0.0.1"
smoke=/opt/fedrad-smoke
rm -rf "$root$smoke"
mkdir -p "$root$smoke"
in_root fedrad pki init --ca-dir "$smoke/ca" > /dev/null
in_root fedrad pki issue --ca-dir "$smoke/ca" --cn coordinator --role coordinator --out-dir "$smoke/tls" > /dev/null
in_root fedrad pki issue --ca-dir "$smoke/ca" --cn S1 --role site --out-dir "$smoke/tls" > /dev/null
{
  echo "patient_id,age"
  for i in $(seq 1 12); do echo "P$i,$((50 + i))"; done
} > "$root$smoke/cohort.csv"
cat > "$root$smoke/coordinator.textproto" <<CONF
listen_address: "127.0.0.1:0"
port_file: "$smoke/port"
tls { ca_cert: "$smoke/ca/ca.crt" cert: "$smoke/tls/coordinator.crt" key: "$smoke/tls/coordinator.key" crl: "$smoke/ca/crl.pem" }
data_dir: "$smoke/coord-data"
audit_log: "$smoke/coord-audit/coordinator.log"
CONF
in_root chown -R 10001:10001 "$smoke"
as_fedrad fedrad version
# chroot and env exec in place, so $! is the coordinator's own pid (a shell
# function in the background would leave it orphaned on kill).
chroot --userspec=10001:10001 "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
  fedrad-coordinator --config "$smoke/coordinator.textproto" > "$root$smoke/coord.log" 2>&1 &
coord=$!
stop_coordinator() {
  kill "$coord" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$coord" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$coord" 2>/dev/null || true
}
trap stop_coordinator EXIT
for _ in $(seq 100); do [ -s "$root$smoke/port" ] && break; sleep 0.1; done
[ -s "$root$smoke/port" ] || { cat "$root$smoke/coord.log"; echo "FAIL: the coordinator did not start"; exit 1; }
port="$(tr -d '\n' < "$root$smoke/port")"
cat > "$root$smoke/site.textproto" <<CONF
coordinator_address: "127.0.0.1:$port"
coordinator_name: "coordinator"
tls { ca_cert: "$smoke/ca/ca.crt" cert: "$smoke/tls/S1.crt" key: "$smoke/tls/S1.key" crl: "$smoke/ca/crl.pem" }
data_csv: "$smoke/cohort.csv"
output_dir: "$smoke/out"
audit_log: "$smoke/site-audit/site.log"
state_dir: "$smoke/site-state"
CONF
in_root chown 10001:10001 "$smoke/site.textproto"
as_fedrad fedrad-site --config "$smoke/site.textproto" --check
echo "PASS: the runtime stage's packages run fedrad, fedrad-coordinator and fedrad-site --check as uid 10001"
