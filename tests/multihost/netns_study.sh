#!/usr/bin/env bash
# Multi-host test of a federation across network namespaces: the coordinator
# and three site nodes each in their own namespace with its own address
# (10.213.0.0/24 on veth pairs joined by a bridge in a fifth, "hub",
# namespace; no address outside these namespaces is ever used), real mutual
# TLS with certificates from deploy/compose/enrol.sh, and the cohort summary
# study (examples/studies/cohort_summary.textproto) on three generated CSVs,
# made to last with the test-only debug.sleep rounds. Site S3's link is cut
# (its bridge port set down: packets are silently dropped, as when a
# hospital's line fails) and restored while studies run. It asserts the
# behaviour docs/architecture.md ("Failure semantics") documents:
#
#   A  short cut (shorter than the task timeout), then restored: the study
#      waits; S3's answer arrives after the restore; SUCCEEDED with all three
#      sites and pooled n = n1 + n2 + n3.
#   B  cut longer than the task timeout, quorum 2 of 3: S3 is timed out and
#      excluded ("no answer to 'debug.sleep' within ..."); the study goes on
#      and SUCCEEDS with S1 and S2 (pooled n = n1 + n2). Meanwhile
#      `fedrad-site --check` at S3 fails at the tcp step ("timed out").
#   C  cut longer than the task timeout, quorum all: the study stops, FAILED,
#      "quorum lost during 'debug.sleep'".
#   D  after the restore, a study naming all three sites SUCCEEDS again
#      (S3 is back), and `fedrad-site --check` at S1 passes every step.
#   E  the audit logs verify, and each site's log (S3's too, across the
#      cuts) cross-checks against the coordinator's.
#
#   tests/multihost/netns_study.sh BIN_DIR SOURCE_DIR     (as root)
#
# Exit 0 pass, 1 fail, 77 skipped (not root, no `ip`, namespaces not allowed:
# the message says which). Every wait is bounded; namespaces and processes
# are removed on exit (trap). FEDRAD_MULTIHOST_KEEP=1 keeps the work folder.
set -euo pipefail

bin="${1:?usage: netns_study.sh BIN_DIR SOURCE_DIR}"
src="${2:?usage: netns_study.sh BIN_DIR SOURCE_DIR}"
bin="$(cd "$bin" && pwd)"
src="$(cd "$src" && pwd)"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces (run as root, e.g. in CI)"
command -v ip >/dev/null 2>&1 || skip "needs ip from iproute2 (apt-get install iproute2)"
command -v python3 >/dev/null 2>&1 || skip "needs python3 to read results.json"
command -v timeout >/dev/null 2>&1 || skip "needs timeout (coreutils)"
for b in fedrad fedrad-site fedrad-coordinator; do
  [ -x "$bin/$b" ] || { echo "FAIL: $bin/$b is missing (build it first)"; exit 1; }
done

started=$SECONDS
tag="fm$$"            # namespace prefix: unique per run, so runs never collide
nodes=(coord S1 S2 S3)
declare -A addr=([coord]=10.213.0.1 [S1]=10.213.0.11 [S2]=10.213.0.12 [S3]=10.213.0.13)
declare -A rows=([S1]=40 [S2]=55 [S3]=65)
work="$(mktemp -d /tmp/fedrad-multihost.XXXXXX)"
pids=()
namespaces=()

log() { printf '[%3ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() {
  {
    echo "FAIL: $*"
    echo "---- coordinator log (last 30 lines)"; tail -n 30 "$work/coord.log" 2>/dev/null || true
    for s in S1 S2 S3; do
      echo "---- $s log (last 10 lines)"; tail -n 10 "$work/$s.log" 2>/dev/null || true
    done
  } >&2
  exit 1
}

cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  # Backstop: anything still running inside the namespaces this run made.
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  if [ "${FEDRAD_MULTIHOST_KEEP:-0}" = 1 ]; then
    echo "work folder kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# inns NODE CMD...: run CMD in NODE's namespace.
inns() { local n="$1"; shift; ip netns exec "$tag-$n" "$@"; }
# wait_for SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
  local limit="$1" what="$2" deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within $limit s"
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------
log "creating namespaces $tag-{hub,coord,S1,S2,S3}"
if ! err="$(ip netns add "$tag-hub" 2>&1)"; then
  skip "cannot create a network namespace: $err"
fi
namespaces+=("$tag-hub")
ip -n "$tag-hub" link add br0 type bridge
ip -n "$tag-hub" link set br0 up
for n in "${nodes[@]}"; do
  ip netns add "$tag-$n"
  namespaces+=("$tag-$n")
  # The veth pair is made inside the hub namespace and its other end moved
  # to the node: nothing is added to the machine's own namespace.
  ip -n "$tag-hub" link add "h-$n" type veth peer name eth0 netns "$tag-$n"
  ip -n "$tag-hub" link set "h-$n" master br0
  ip -n "$tag-hub" link set "h-$n" up
  ip -n "$tag-$n" addr add "${addr[$n]}/24" dev eth0
  ip -n "$tag-$n" link set eth0 up
  ip -n "$tag-$n" link set lo up
done
cut_link() { ip -n "$tag-hub" link set "h-$1" down; log "cut $1's link"; }
restore_link() { ip -n "$tag-hub" link set "h-$1" up; log "restored $1's link"; }

# ---------------------------------------------------------------------------
log "enrolling the coordinator, an admin and three sites (deploy/compose/enrol.sh)"
FEDRAD="$bin/fedrad" FEDRAD_CA_DIR="$work/ca" FEDRAD_ENROL_ROOT="$work/nodes" \
  FEDRAD_SITES="S1 S2 S3" bash "$src/deploy/compose/enrol.sh" > "$work/enrol.log" 2>&1 ||
  { cat "$work/enrol.log"; fail "enrolment"; }

# Three small cohorts (seeded; examples/studies/cohort_summary.textproto summarises every numeric column).
mkdir -p "$work/data"
seed=1
for s in S1 S2 S3; do
  awk -v n="${rows[$s]}" -v seed="$seed" -v site="$s" 'BEGIN {
    srand(seed);
    print "patient_id,age,sex,bmi,cea,n_lesions,time,status";
    for (i = 1; i <= n; i++) {
      printf "%s-%03d,%d,%d,%.1f,%.1f,%d,%.1f,%d\n", site, i, 40 + int(40 * rand()),
             rand() < 0.55, 19 + 12 * rand(), 2 + 60 * rand() * rand(),
             1 + int(5 * rand()), 1 + 60 * rand(), rand() < 0.45;
    }
  }' > "$work/data/$s.csv"
  seed=$((seed + 1))
done

cat > "$work/coordinator.textproto" <<EOF
listen_address: "0.0.0.0:7443"
tls {
  ca_cert: "$work/nodes/coordinator/ca.crt"
  cert: "$work/nodes/coordinator/coordinator.crt"
  key: "$work/nodes/coordinator/coordinator.key"
  crl: "$work/nodes/coordinator/crl.pem"
}
data_dir: "$work/coord-data"
audit_log: "$work/coord-audit/coordinator.log"
site_wait_seconds: 40
EOF
cat > "$work/admin.textproto" <<EOF
coordinator_address: "127.0.0.1:7443"
coordinator_name: "coordinator"
tls {
  ca_cert: "$work/nodes/admin/ca.crt"
  cert: "$work/nodes/admin/admin.crt"
  key: "$work/nodes/admin/admin.key"
  crl: "$work/nodes/admin/crl.pem"
}
EOF
for s in S1 S2 S3; do
  cat > "$work/$s.textproto" <<EOF
coordinator_address: "${addr[coord]}:7443"
coordinator_name: "coordinator"
tls {
  ca_cert: "$work/nodes/$s/ca.crt"
  cert: "$work/nodes/$s/site.crt"
  key: "$work/nodes/$s/site.key"
  crl: "$work/nodes/$s/crl.pem"
}
data_csv: "$work/data/$s.csv"
policy { enable_debug_tasks: true }
output_dir: "$work/$s-output"
audit_log: "$work/$s-audit/site.log"
state_dir: "$work/$s-state"
heartbeat_seconds: 1
reconnect_max_seconds: 2
EOF
done

# ---------------------------------------------------------------------------
log "starting the coordinator in $tag-coord (${addr[coord]}:7443)"
# `ip netns exec` execs the program in place, so $! is the daemon's own pid
# (a shell function in the background would leave it orphaned on kill).
ip netns exec "$tag-coord" "$bin/fedrad-coordinator" --config "$work/coordinator.textproto" \
  > "$work/coord.log" 2>&1 &
pids+=("$!")
wait_for 30 "the coordinator listening" inns coord bash -c 'exec 3<>/dev/tcp/127.0.0.1/7443'
for s in S1 S2 S3; do
  log "starting site $s in $tag-$s (${addr[$s]})"
  ip netns exec "$tag-$s" "$bin/fedrad-site" --config "$work/$s.textproto" \
    > "$work/$s.log" 2>&1 &
  pids+=("$!")
done
for s in S1 S2 S3; do
  wait_for 30 "site $s connected across namespaces" grep -q "site $s connected" "$work/coord.log"
done
log "all three sites connected"

export FEDRAD_ADMIN_CONFIG="$work/admin.textproto"
admin() { inns coord timeout 60 "$bin/fedrad" "$@"; }

# The study specs: the example, plus debug.sleep rounds that make it last,
# the three sites named, and (B, C) a quorum and a short task timeout.
spec() {  # spec NAME MIN_SITES TIMEOUT ROUNDS SLEEP -> path
  local out="$work/$1.textproto"
  python3 - "$src/examples/studies/cohort_summary.textproto" "$out" "$@" <<'PY'
import re, sys
src, out, name, min_sites, timeout, rounds, sleep = sys.argv[1:8]
text = open(src).read()
if min_sites != "-":   # replace the example's quorum block
    text = re.sub(r"(?ms)^quorum \{.*?^\}\n", "", text)
    text += f"quorum {{\n  min_sites: {min_sites}\n  task_timeout_seconds: {timeout}\n}}\n"
text = re.sub(r'(?m)^name: ".*"$', f'name: "{name}"', text)
text = re.sub(r'(?m)^sites: .*\n', '', text)  # the example's own list
text += 'sites: "S1"\nsites: "S2"\nsites: "S3"\n'
if int(rounds) > 0:
    text += f"debug {{\n  sleep_rounds: {rounds}\n  sleep_seconds: {sleep}\n}}\n"
open(out, "w").write(text)
PY
  echo "$out"
}

submit() {  # submit SPEC -> study id (each site's operator approves SPEC first)
  local id s
  for s in S1 S2 S3; do
    "$bin/fedrad-site" approve --config "$work/$s.textproto" "$1" --note "netns test" \
      > "$work/approve-$s.txt" 2>&1 || { cat "$work/approve-$s.txt"; fail "approve $1 at $s"; }
  done
  id="$(admin study submit "$1")" || fail "submit $1"
  wait_for 20 "study $id started" bash -c \
    "ip netns exec $tag-coord '$bin/fedrad' study status '$id' | grep -Eq 'RUNNING|SUCCEEDED|FAILED'"
  echo "$id"
}
finish() {  # finish ID EXPECTED_EXIT -> results in $work/ID.json
  local id="$1" want="$2" rc=0
  inns coord timeout 180 "$bin/fedrad" study watch "$id" > "$work/$id.watch" 2>&1 || rc=$?
  [ "$rc" -ne 124 ] || fail "study $id did not end within 180 s"
  admin study results "$id" --out "$work/$id.json" 2>/dev/null || fail "results of $id"
  [ "$rc" -eq "$want" ] || { cat "$work/$id.watch"; fail "study $id: watch exit $rc, expected $want"; }
}
# expect ID PYTHON-ASSERTIONS (r = results.json as a dict)
expect() {
  python3 - "$work/$1.json" "$2" <<'PY' || fail "results of $1 do not match (above)"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["study"]
try:
    exec(sys.argv[2])
except AssertionError as e:
    print("assertion failed:", e)
    print(json.dumps(s, indent=1))
    sys.exit(1)
PY
}

n1=${rows[S1]} n2=${rows[S2]} n3=${rows[S3]}

# ---------------------------------------------------------------------------
log "A: S3's link cut for 6 s during a study (task timeout 60 s, every site required)"
id="$(submit "$(spec study-a - - 4 1.5)")"
sleep 0.5
cut_link S3
sleep 6
restore_link S3
finish "$id" 0
expect "$id" "
assert s['state'] == 'SUCCEEDED', s['state']
assert sorted(s['completed_sites']) == ['S1', 'S2', 'S3'], s['completed_sites']
assert not s.get('excluded_sites'), s.get('excluded_sites')
assert r['cohort']['pooled']['n'] == $n1 + $n2 + $n3, r['cohort']['pooled']['n']
assert r['debug']['sleep_n'] == $n1 + $n2 + $n3, r['debug']
"
log "A: SUCCEEDED with S1, S2, S3 after the restore; pooled n = $((n1 + n2 + n3))"

# ---------------------------------------------------------------------------
log "B: S3 cut longer than the task timeout (5 s), quorum 2 of 3"
id="$(submit "$(spec study-b 2 5 3 1)")"
sleep 0.3
cut_link S3
rc=0
inns S3 "$bin/fedrad-site" --config "$work/S3.textproto" --check > "$work/check-S3-cut.txt" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$work/check-S3-cut.txt"; fail "--check at S3 with its link cut: exit $rc, expected 1"; }
# On one L2 segment a dead link shows as "No route to host" (ARP gets no
# answer); behind a router it would time out. Either way: the tcp step.
grep -Eq '^\[FAIL\] tcp .*(timed out|No route to host)' "$work/check-S3-cut.txt" ||
  { cat "$work/check-S3-cut.txt"; fail "--check at S3 did not fail at the tcp step"; }
grep -A1 '^\[FAIL\] tcp' "$work/check-S3-cut.txt" | grep -q -- '-> ' ||
  { cat "$work/check-S3-cut.txt"; fail "--check at S3 gave no advice for the tcp step"; }
for step in config data storage key cert ca dns; do
  grep -Eq "^\[( OK |WARN)\] $step " "$work/check-S3-cut.txt" ||
    { cat "$work/check-S3-cut.txt"; fail "--check at S3: local step $step did not pass"; }
done
log "B: fedrad-site --check at S3 says: $(grep '^\[FAIL\]' "$work/check-S3-cut.txt" | head -1 | cut -c1-90)"
finish "$id" 0
restore_link S3
expect "$id" "
assert s['state'] == 'SUCCEEDED', s['state']
assert sorted(s['completed_sites']) == ['S1', 'S2'], s['completed_sites']
assert \"no answer to 'debug.sleep'\" in s['excluded_sites']['S3'], s['excluded_sites']
assert 'S3' in s['message'], s['message']
assert r['cohort']['pooled']['n'] == $n1 + $n2, r['cohort']['pooled']['n']
assert 'S3' not in r['cohort']['sites'], list(r['cohort']['sites'])
"
log "B: SUCCEEDED without S3 (excluded: no answer within 5 s); pooled n = $((n1 + n2))"

# ---------------------------------------------------------------------------
log "C: S3 cut longer than the task timeout (4 s), every site required"
id="$(submit "$(spec study-c 0 4 3 1)")"
sleep 0.3
cut_link S3
finish "$id" 1
restore_link S3
expect "$id" "
assert s['state'] == 'FAILED', s['state']
assert \"quorum lost during 'debug.sleep'\" in s['message'], s['message']
assert 'S3' in s['message'], s['message']
"
log "C: FAILED: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["study"]["message"][:100])' "$work/$id.json")"

# ---------------------------------------------------------------------------
log "D: after the restore, a study with all three sites (S3 must be back within 40 s)"
id="$(submit "$(spec study-d - - 0 0)")"
finish "$id" 0
expect "$id" "
assert s['state'] == 'SUCCEEDED', s['state']
assert sorted(s['completed_sites']) == ['S1', 'S2', 'S3'], s['completed_sites']
assert r['cohort']['pooled']['n'] == $n1 + $n2 + $n3, r['cohort']['pooled']['n']
"
log "D: SUCCEEDED with S1, S2, S3"

rc=0
inns S1 "$bin/fedrad-site" --config "$work/S1.textproto" --check > "$work/check-S1.txt" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$work/check-S1.txt"; fail "--check at S1: exit $rc, expected 0"; }
# config warns: enable_debug_tasks is set (these sites run debug.sleep).
for step in config data storage key cert ca dns tcp tls protocol; do
  grep -Eq "^\[( OK |WARN)\] $step " "$work/check-S1.txt" ||
    { cat "$work/check-S1.txt"; fail "--check at S1: step $step did not pass"; }
done
log "D: fedrad-site --check at S1 passes all 10 steps across namespaces: $(grep '^\[ OK \] protocol' "$work/check-S1.txt" | cut -c1-80)"

# ---------------------------------------------------------------------------
log "E: audit logs"
# SIGTERM: each daemon closes its audit log with a signed close record.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "daemon $pid did not stop within 15 s of SIGTERM"
done
pids=()
timeout 60 "$bin/fedrad" audit verify --ca "$work/ca/ca.crt" "$work/coord-audit/coordinator.log" \
  > "$work/verify.txt" 2>&1 || { cat "$work/verify.txt"; fail "coordinator audit log does not verify"; }
for s in S1 S2 S3; do
  timeout 60 "$bin/fedrad" audit verify --ca "$work/ca/ca.crt" "$work/$s-audit/site.log" \
    >> "$work/verify.txt" 2>&1 || { cat "$work/verify.txt"; fail "$s audit log does not verify"; }
done
for s in S1 S2 S3; do
  timeout 60 "$bin/fedrad" audit cross-check "$work/$s-audit/site.log" \
    "$work/coord-audit/coordinator.log" > "$work/cross-$s.txt" 2>&1 ||
    { cat "$work/cross-$s.txt"; fail "$s's audit log does not cross-check with the coordinator's"; }
done
log "E: every audit log verifies; each site's cross-checks with the coordinator's (S3 too, across the cuts)"

log "PASS in $((SECONDS - started)) s"
