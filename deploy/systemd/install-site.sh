#!/usr/bin/env bash
# Installs a fedrad site node on a hospital VM (Debian 12 or similar, systemd):
# a dedicated system user `fedrad`, the binaries in /usr/local/bin, the config
# in /etc/fedrad, the working directory /var/lib/fedrad (tls/ audit/ output/),
# the data folder (read-only to the service) and the hardened unit
# fedrad-site.service. It does not start the service unless --start is given:
# first enrol (key + CSR made here, certificate back from the coordinator),
# then `fedrad-site --check`. See docs/deployment.md.
#
#   sudo deploy/systemd/install-site.sh --site-id S1 \
#        --coordinator fedrad.example.org:7443 --bin-dir build/bin --enrol
#
# Options:
#   --site-id NAME        this site's name (its certificate's CN)      [required]
#   --coordinator H:P     the coordinator's address                    [required]
#   --bin-dir DIR         folder with fedrad and fedrad-site   [default: build/bin]
#   --data-dir DIR        the site's data folder       [default: /srv/fedrad/data]
#   --enrol               also make the key and CSR (fedrad pki request) now
#   --start               enable and start the service (needs the certificate)
#   --root DIR            install below DIR instead of / (packaging, tests):
#                         no user is created, no chown, no systemctl
# Re-running is safe: an existing config, key or certificate is kept.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
site_id="" coordinator="" bin_dir="$repo/build/bin" data_dir="/srv/fedrad/data"
enrol=0 start=0 root="/"

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --site-id) site_id="${2:?}"; shift 2 ;;
    --coordinator) coordinator="${2:?}"; shift 2 ;;
    --bin-dir) bin_dir="${2:?}"; shift 2 ;;
    --data-dir) data_dir="${2:?}"; shift 2 ;;
    --enrol) enrol=1; shift ;;
    --start) start=1; shift ;;
    --root) root="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "install-site.sh: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$site_id" ] || { echo "install-site.sh: --site-id is required" >&2; exit 2; }
[ -n "$coordinator" ] || { echo "install-site.sh: --coordinator is required" >&2; exit 2; }
case "$site_id" in
  *[!A-Za-z0-9._-]*) echo "install-site.sh: --site-id may hold only letters, digits, . _ -" >&2; exit 2 ;;
esac
case "$data_dir" in
  /*) ;;
  *) echo "install-site.sh: --data-dir must be an absolute path" >&2; exit 2 ;;
esac
for b in fedrad fedrad-site; do
  [ -x "$bin_dir/$b" ] || { echo "install-site.sh: $bin_dir/$b not found (build first, or --bin-dir)" >&2; exit 1; }
done

real=0   # 1 when installing into the running system
if [ "$root" = "/" ]; then
  real=1
  [ "$(id -u)" -eq 0 ] || { echo "install-site.sh: run as root (sudo)" >&2; exit 1; }
  root=""
else
  mkdir -p "$root"
  root="$(cd "$root" && pwd)"
fi

step() { echo "==> $*"; }
# install -d/-m with owner only on a real install.
mkdir_owned() {  # mode owner group dir
  if [ "$real" -eq 1 ]; then
    install -d -m "$1" -o "$2" -g "$3" "$4"
  else
    install -d -m "$1" "$4"
  fi
}
as_fedrad() {
  if [ "$real" -eq 1 ]; then runuser -u fedrad -- "$@"; else "$@"; fi
}

if [ "$real" -eq 1 ]; then
  if ! getent passwd fedrad >/dev/null; then
    step "creating the system user fedrad"
    useradd --system --user-group --home-dir /var/lib/fedrad --no-create-home \
      --shell /usr/sbin/nologin --comment "fedrad site node" fedrad
  fi
fi

step "installing fedrad and fedrad-site into $root/usr/local/bin"
install -d -m 0755 "$root/usr/local/bin"
install -m 0755 "$bin_dir/fedrad" "$bin_dir/fedrad-site" "$root/usr/local/bin/"

step "creating $root/etc/fedrad, $root/var/lib/fedrad/{tls,audit,output}, $root$data_dir"
mkdir_owned 0750 root fedrad "$root/etc/fedrad"
mkdir_owned 0750 fedrad fedrad "$root/var/lib/fedrad"
for d in tls audit output; do
  mkdir_owned 0700 fedrad fedrad "$root/var/lib/fedrad/$d"
done
if [ ! -d "$root$data_dir" ]; then
  # The hospital puts its data here; fedrad can read but not write it.
  mkdir_owned 0750 root fedrad "$root$data_dir"
fi

config="$root/etc/fedrad/site.textproto"
if [ -e "$config" ]; then
  step "keeping the existing $config"
else
  step "writing $config"
  coordinator_host="${coordinator%:*}"
  umask 027
  cat > "$config" <<CONF
# fedrad-site configuration (proto/config.proto, SiteConfig; every field is
# explained in docs/site-operator.md). Absolute paths, so that it reads the
# same from any working directory (the service runs in /var/lib/fedrad).
coordinator_address: "$coordinator"
coordinator_name: "$coordinator_host"
tls {
  ca_cert: "/var/lib/fedrad/tls/ca.crt"
  cert: "/var/lib/fedrad/tls/site.crt"
  key: "/var/lib/fedrad/tls/site.key"
  crl: "/var/lib/fedrad/tls/crl.pem"
}
data_csv: "$data_dir/cohort.csv"
id_column: "patient_id"
policy {
  # No result over fewer than this many patients leaves the site.
  min_cell_count: 10
}
output_dir: "/var/lib/fedrad/output"
audit_log: "/var/lib/fedrad/audit/site.log"
# Study approvals: \`fedrad-site approve --config $config STUDY.textproto\`.
state_dir: "/var/lib/fedrad/state"
CONF
  [ "$real" -eq 0 ] || chown root:fedrad "$config"
  chmod 0640 "$config"
fi

step "installing the unit $root/etc/systemd/system/fedrad-site.service"
install -d -m 0755 "$root/etc/systemd/system"
install -m 0644 "$here/fedrad-site.service" "$root/etc/systemd/system/fedrad-site.service"
dropin="$root/etc/systemd/system/fedrad-site.service.d"
if [ "$data_dir" != "/srv/fedrad/data" ]; then
  install -d -m 0755 "$dropin"
  printf '[Service]\nReadOnlyPaths=%s\n' "$data_dir" > "$dropin/data-dir.conf"
  case "$data_dir" in
    /home/*) printf 'ProtectHome=read-only\n' >> "$dropin/data-dir.conf" ;;
  esac
  chmod 0644 "$dropin/data-dir.conf"
fi
if [ -f "$repo/docs/deployment.md" ]; then
  install -d -m 0755 "$root/usr/local/share/doc/fedrad"
  install -m 0644 "$repo/docs/deployment.md" "$root/usr/local/share/doc/fedrad/"
fi
if [ "$real" -eq 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi

tls="$root/var/lib/fedrad/tls"
if [ "$enrol" -eq 1 ]; then
  if [ -e "$tls/site.key" ]; then
    step "keeping the existing key $tls/site.key"
  else
    step "making this site's private key and certificate request (the key stays here)"
    as_fedrad "$root/usr/local/bin/fedrad" pki request --cn "$site_id" --role site \
      --key-out "$tls/site.key" --csr-out "$tls/site.csr"
  fi
fi

if [ "$start" -eq 1 ]; then
  [ "$real" -eq 1 ] || { echo "install-site.sh: --start needs a real install (no --root)" >&2; exit 2; }
  step "checking, then enabling and starting fedrad-site"
  runuser -u fedrad -- /usr/local/bin/fedrad-site --config /etc/fedrad/site.textproto --check
  systemctl enable --now fedrad-site.service
  systemctl --no-pager status fedrad-site.service || true
  exit 0
fi

cat <<NEXT

Installed. Next steps (docs/deployment.md):
  1. Send $tls/site.csr to the study coordinator$( [ "$enrol" -eq 1 ] || echo " (make it first: re-run with --enrol)").
  2. Put what comes back in $tls/: site.crt, ca.crt, crl.pem
     (owner fedrad, e.g. install -o fedrad -g fedrad -m 0644 site.crt ca.crt crl.pem $tls/).
  3. Put the data table at $data_dir/cohort.csv (readable by group fedrad).
  4. Check:  sudo -u fedrad fedrad-site --config /etc/fedrad/site.textproto --check
  5. Start:  sudo systemctl enable --now fedrad-site
NEXT
