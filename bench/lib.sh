# Shared by bench/s3-client and bench/filesystems (sourced, not run): the local server, timing,
# medians, ratios and the result table.
#
# Server env (all optional): CEPH_DIR=/tmp/spacesfs-rgw-bench RGW_PORT=7482 MON_PORT=6791
#   MON_PORT_V2=3302 MEMSTORE_BYTES=6442450944. A server already answering in $CEPH_DIR is reused and
#   left running; one started here is stopped (and its data wiped) by bench_server_down.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
export CEPH_DIR=${CEPH_DIR:-/tmp/spacesfs-rgw-bench}
export RGW_PORT=${RGW_PORT:-7482}
export MON_PORT=${MON_PORT:-6791}
export MON_PORT_V2=${MON_PORT_V2:-3302}
export MEMSTORE_BYTES=${MEMSTORE_BYTES:-6442450944}
PY=/usr/bin/python3
AWS=/usr/bin/aws   # Debian awscli (a pyenv shim may come first on PATH)
BENCH_STARTED_SERVER=0

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# Starts (or reuses) the local radosgw, creates the users, and exports the owner's keys as
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_DEFAULT_REGION and the endpoint as ENDPOINT.
bench_server_up() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$RGW_PORT/bench-probe-$RANDOM" 2>/dev/null) || true
  if [ "$code" = 404 ] && [ -f "$CEPH_DIR/env.sh" ]; then
    log "reusing the radosgw already running at http://127.0.0.1:$RGW_PORT (CEPH_DIR=$CEPH_DIR); it is left running"
  else
    log "starting radosgw (CEPH_DIR=$CEPH_DIR, port $RGW_PORT)"
    BENCH_STARTED_SERVER=1
    "$REPO_DIR/tests/server/rgw-start" >&2 || return 1
  fi
  # Users and keys: made once per cluster (rgw-tenants checks 54 permissions, a minute on a busy host).
  if [ "$BENCH_STARTED_SERVER" = 1 ] || [ ! -s "$CEPH_DIR/tenants.env" ]; then
    "$REPO_DIR/tests/server/rgw-tenants" >/dev/null || return 1
  fi
  # shellcheck disable=SC1091
  source "$CEPH_DIR/tenants.env"
  export AWS_ACCESS_KEY_ID=$SPACESFS_TEST_OWNER_ACCESS_KEY
  export AWS_SECRET_ACCESS_KEY=$SPACESFS_TEST_OWNER_SECRET_KEY
  export AWS_DEFAULT_REGION=${SPACESFS_TEST_REGION:-us-east-1}
  ENDPOINT=$SPACESFS_TEST_ENDPOINT
  BENCH_CA=""
  if [ "${TLS:-0}" = 1 ]; then
    # The same radosgw over https, its certificate signed by the cluster's own authority: every
    # client is told to trust it (aws, boto3 and s3_client_bench: AWS_CA_BUNDLE; s3fs:
    # CURL_CA_BUNDLE; rclone: --ca-cert; spacesfs: ca_bundle in its profile).
    ENDPOINT=$SPACESFS_TEST_TLS_ENDPOINT
    BENCH_CA=$SPACESFS_TEST_TLS_CA_BUNDLE
    export AWS_CA_BUNDLE=$BENCH_CA CURL_CA_BUNDLE=$BENCH_CA
  fi
}

bench_server_down() {
  if [ "$BENCH_STARTED_SERVER" = 1 ]; then
    log "stopping radosgw (CEPH_DIR=$CEPH_DIR)"
    WIPE=1 QUIET=1 "$REPO_DIR/tests/server/rgw-stop" || true
    BENCH_STARTED_SERVER=0
  fi
}

CLK_TCK=$(getconf CLK_TCK)

# proc_cpu PID...: CPU seconds (user+system) the processes have used so far (0 for one gone).
proc_cpu() {
  local pid total=0
  for pid in "$@"; do
    total=$(awk -v t="$CLK_TCK" -v sum="$total" '{sub(/^.*\) /, ""); printf "%.3f", sum + ($12 + $13) / t}' "/proc/$pid/stat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}
# The same for the server's processes (radosgw, ceph-osd, ceph-mon of this cluster).
server_cpu() {
  # shellcheck disable=SC2046  # one word per pid
  proc_cpu $(pgrep -f -- "-c $CEPH_DIR/ceph.conf")
}

# Collects the server's garbage now (the objects earlier workloads deleted or replaced, which
# radosgw otherwise removes in the background, during later workloads), waits until no OSD is
# full (a full memstore OSD blocks writes instead of failing them), then until the server is idle
# (under 0.1 s of CPU in a second, or 30 s): after the seed upload it worked on for several more
# seconds, which the first workload paid for. Returns 1, the reason in SETTLE_WHY, if an OSD is
# still full after 120 s.
bench_server_settle() {
  local conf=$CEPH_DIR/ceph.conf health="" i c0 c1
  radosgw-admin -c "$conf" gc process --include-all >/dev/null 2>&1 || true
  for ((i = 0; i < 120; i++)); do
    health=$(timeout 10 ceph -c "$conf" health 2>/dev/null)
    [[ $health =~ (^|[^a-z])[0-9]+\ full\ osd ]] || break
    sleep 1
  done
  if ((i == 120)); then
    SETTLE_WHY="the server is full ($health); raise MEMSTORE_BYTES (now $MEMSTORE_BYTES)"
    return 1
  fi
  for ((i = 0; i < 30; i++)); do
    c0=$(server_cpu); sleep 1; c1=$(server_cpu)
    awk -v a="$c0" -v b="$c1" 'BEGIN {exit !(b - a < 0.1)}' && break
  done
  return 0
}

# Creates BUCKET as the owner if it does not exist (any user may; the owner is the one the bench uses).
bench_bucket() {
  "$AWS" --endpoint-url "$ENDPOINT" s3api head-bucket --bucket "$1" >/dev/null 2>&1 ||
    "$AWS" --endpoint-url "$ENDPOINT" s3api create-bucket --bucket "$1" >/dev/null
}

now() { date +%s.%N; }

# timed OUT_PREFIX cmd...: runs cmd with stdout/stderr in OUT_PREFIX.out/.err; sets T_WALL (s),
# T_CPU (user+sys s) and T_RSS_MIB (peak RSS of the process tree's largest process) and T_RC.
timed() {
  local out=$1; shift
  local t0 t1
  t0=$(now)
  /usr/bin/time -f '%U %S %M' -o "$out.time" "$@" >"$out.out" 2>"$out.err"
  T_RC=$?
  t1=$(now)
  T_WALL=$(echo "$t1 - $t0" | bc -l)
  read -r u s m <"$out.time" 2>/dev/null || { u=0 s=0 m=0; }
  # time -o appends "Command exited with non-zero status" first on failure
  if ! [[ $u =~ ^[0-9.]+$ ]]; then read -r u s m < <(tail -n 1 "$out.time"); fi
  T_CPU=$(echo "$u + $s" | bc -l)
  T_RSS_MIB=$(echo "$m / 1024" | bc -l)
}

# median v1 v2 ...: the median; FAIL if any value is FAIL or there is none.
median() {
  local v
  [ $# -gt 0 ] || { echo FAIL; return; }
  for v in "$@"; do [ "$v" = FAIL ] && { echo FAIL; return; }; done
  [[ $1 =~ ^[0-9.]+(e[-+]?[0-9]+)?$ ]] || { echo "$1"; return; }   # n/a and the like
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# fmt VALUE [DECIMALS]: a number for the table, or the word as is.
fmt() {
  local v=$1 d=${2:-}
  [[ $v =~ ^-?[0-9.]+(e[-+]?[0-9]+)?$ ]] || { echo "$v"; return; }
  if [ -z "$d" ]; then
    d=$(awk -v x="$v" 'BEGIN {x = x < 0 ? -x : x; print (x >= 100 ? 0 : (x >= 10 ? 1 : (x >= 1 ? 2 : 3)))}')
  fi
  printf "%.${d}f" "$v"
}

# ratio A B HIGHER_IS_BETTER(1|0): A/B as "1.23x", "-" when either is missing or zero.
ratio() {
  local a=$1 b=$2
  [[ $a =~ ^[0-9.]+(e[-+]?[0-9]+)?$ ]] && [[ $b =~ ^[0-9.]+(e[-+]?[0-9]+)?$ ]] || { echo "-"; return; }
  awk -v a="$a" -v b="$b" 'BEGIN {if (b == 0 || a == 0) print "-"; else printf "%.2fx", a / b}'
}

# md_row cell...: one Markdown table row.
md_row() {
  local line="|" c
  for c in "$@"; do line+=" $c |"; done
  echo "$line"
}
md_rule() {
  local line="|" i
  for ((i = 0; i < $1; i++)); do line+=" --- |"; done
  echo "$line"
}

# Aligns a Markdown table read on stdin (for the terminal; the file keeps the plain Markdown).
md_align() {
  awk -F'|' '
    { rows[NR] = $0; n = NF; for (i = 2; i < NF; i++) { c = $i; gsub(/^ +| +$/, "", c); cell[NR, i] = c;
      if (length(c) > w[i]) w[i] = length(c) } nf[NR] = NF }
    END { for (r = 1; r <= NR; r++) { if (nf[r] < 3) { print rows[r]; continue } line = "|";
      for (i = 2; i < nf[r]; i++) { c = cell[r, i]; if (c ~ /^---$/) { s = ""; for (k = 0; k < w[i]; k++) s = s "-"; c = s }
        line = line sprintf(" %-*s |", w[i], c) } print line } }'
}

bench_sysinfo() {
  echo "- host: $(uname -sr), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- server: local radosgw $(radosgw --version 2>/dev/null | awk '{print $3}') (memstore OSD in RAM) at $ENDPOINT, same host (client and server share the cores)"
}
