#!/usr/bin/env bash
# Enrolment for a pilot on one host (deploy/compose's `enrol` service; the
# multi-host test uses it too): makes the study CA, then for the coordinator,
# each site and one admin does what the real enrolment does at two places
# (docs/deployment.md, "Enrol"):
#   at the node: `fedrad pki request` makes its private key and a CSR;
#   at the CA:   `fedrad pki sign` turns the CSR into a certificate;
#   back at the node: the certificate, the CA certificate and the CRL.
# Keeps whatever already exists (re-running is harmless); the CA certificate
# and CRL are copied again each time (a re-run distributes a fresh CRL).
#
# Environment:
#   FEDRAD                   the fedrad command              [default: fedrad]
#   FEDRAD_CA_DIR            the CA folder                   [required]
#   FEDRAD_ENROL_ROOT        one folder per node below it:   [required]
#                            coordinator/, admin/, <site>/ holding
#                            <base>.key <base>.crt ca.crt crl.pem with base
#                            coordinator, admin, site
#   FEDRAD_SITES             site names                      [default: S1 S2 S3]
#   FEDRAD_COORDINATOR_NAME  the coordinator's CN            [default: coordinator]
#   FEDRAD_COORDINATOR_DNS   extra DNS names for its certificate (space separated)
#   FEDRAD_COORDINATOR_IPS   extra IP addresses for its certificate
#   FEDRAD_OWNER             uid:gid to give each node's files (when run as root)
set -euo pipefail

fedrad="${FEDRAD:-fedrad}"
ca="${FEDRAD_CA_DIR:?set FEDRAD_CA_DIR}"
root="${FEDRAD_ENROL_ROOT:?set FEDRAD_ENROL_ROOT}"
read -r -a sites <<< "${FEDRAD_SITES:-S1 S2 S3}"
coordinator="${FEDRAD_COORDINATOR_NAME:-coordinator}"
owner="${FEDRAD_OWNER:-}"

if [ -e "$ca/ca.key" ]; then
  echo "enrol: using the existing study CA in $ca"
else
  "$fedrad" pki init --ca-dir "$ca"
fi

# enrol NAME ROLE DIR BASE [sign options...]
enrol() {
  local name="$1" role="$2" dir="$3" base="$4"
  shift 4
  mkdir -p "$dir"
  if [ ! -e "$dir/$base.key" ]; then
    # At the node: the private key is made here and never leaves it.
    "$fedrad" pki request --cn "$name" --role "$role" \
      --key-out "$dir/$base.key" --csr-out "$dir/$base.csr"
  fi
  if [ ! -e "$dir/$base.crt" ]; then
    # At the CA: only the CSR travels there, only the certificate back.
    # It signs only a request for the name and role this node should have.
    "$fedrad" pki sign --ca-dir "$ca" --csr "$dir/$base.csr" --out "$dir/$base.crt" \
      --expect-cn "$name" --expect-role "$role" "$@" < /dev/null
  fi
  cp "$ca/ca.crt" "$dir/ca.crt"
  cp "$ca/crl.pem" "$dir/crl.pem"
  if [ -n "$owner" ]; then
    chown -R "$owner" "$dir"
  fi
  chmod 0700 "$dir"
  chmod 0600 "$dir/$base.key"
  chmod 0644 "$dir/$base.crt" "$dir/ca.crt" "$dir/crl.pem"
  echo "enrol: $name ($role) ready in $dir"
}

coordinator_opts=()
for d in ${FEDRAD_COORDINATOR_DNS:-}; do coordinator_opts+=(--dns "$d"); done
for ip in ${FEDRAD_COORDINATOR_IPS:-}; do coordinator_opts+=(--ip "$ip"); done
enrol "$coordinator" coordinator "$root/coordinator" coordinator "${coordinator_opts[@]}"
enrol admin admin "$root/admin" admin
for site in "${sites[@]}"; do
  enrol "$site" site "$root/$site" site
done
