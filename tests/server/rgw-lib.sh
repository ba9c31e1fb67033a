# Shared by rgw-start, rgw-stop and rgw-tenants (sourced, not run).
# Sets the cluster's paths and ports from the environment and provides the pid-file helpers that
# make sure only daemons started for THIS $CEPH_DIR are ever signalled.
#
# Env (all optional): CEPH_DIR=/tmp/spacesfs-rgw  RGW_PORT=7480  MON_PORT=6789  MON_PORT_V2=3300
#                     RGW_TLS_PORT=RGW_PORT+1 (radosgw's https port)  MEMSTORE_BYTES=17179869184

CEPH_DIR=$(realpath -m "${CEPH_DIR:-/tmp/spacesfs-rgw}")
RGW_PORT=${RGW_PORT:-7480}
RGW_TLS_PORT=${RGW_TLS_PORT:-$((RGW_PORT + 1))}
MON_PORT=${MON_PORT:-6789}
MON_PORT_V2=${MON_PORT_V2:-3300}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-17179869184}
for _v in RGW_PORT RGW_TLS_PORT MON_PORT MON_PORT_V2; do
  if ! [[ ${!_v} =~ ^[0-9]+$ ]] || [ "${!_v}" -lt 1 ] || [ "${!_v}" -gt 65535 ]; then
    echo "$(basename "$0"): $_v='${!_v}' is not a TCP port" >&2; exit 1
  fi
done
if ! [[ $MEMSTORE_BYTES =~ ^[0-9]+$ ]]; then
  echo "$(basename "$0"): MEMSTORE_BYTES='$MEMSTORE_BYTES' is not a number of bytes" >&2; exit 1
fi
unset _v
CONF=$CEPH_DIR/ceph.conf
RUN_DIR=$CEPH_DIR/run
LOG_DIR=$CEPH_DIR/log
ENDPOINT=http://127.0.0.1:$RGW_PORT
# The same radosgw over https, with a certificate for localhost and 127.0.0.1 signed by an
# authority made for this cluster ($TLS_DIR/ca.pem).
TLS_ENDPOINT=https://localhost:$RGW_TLS_PORT
TLS_DIR=$CEPH_DIR/tls
# Daemon names, in start order (stop in reverse). Pid files are $RUN_DIR/<name>.pid.
DAEMONS=(mon.a osd.0 client.rgw.a)

rgw_log_file() {  # daemon name -> its log file
  echo "$LOG_DIR/$1.log"
}

# Prints the pid recorded for daemon $1 if that process is alive AND was started with
# "-c $CONF" (so a recycled pid, or another cluster's daemon, is never mistaken for ours).
rgw_owned_pid() {
  local pf=$RUN_DIR/$1.pid pid arg
  [ -s "$pf" ] || return 1
  pid=$(<"$pf")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  local prev=""
  while IFS= read -r -d '' arg; do
    if [ "$prev" = -c ] && [ "$arg" = "$CONF" ]; then echo "$pid"; return 0; fi
    prev=$arg
  done <"/proc/$pid/cmdline"
  return 1
}

# Stops daemon $1 if it is ours and removes its pid file. Mode $2: "term" (TERM, up to 10 s, then
# KILL) or "kill" (KILL at once: for a broken cluster about to be wiped, where a radosgw whose OSD
# died would spend the whole grace period hanging). Prints a line when $3 = verbose.
rgw_stop_daemon() {
  local name=$1 mode=${2:-term} pid i
  if pid=$(rgw_owned_pid "$name"); then
    if [ "$mode" = term ]; then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    [ "${3:-}" = verbose ] && echo "stopped $name (pid $pid)"
  fi
  rm -f "$RUN_DIR/$name.pid" "$RUN_DIR/$name.asok"
}

rgw_stop_all() {  # [term|kill] [verbose]: rgw, then osd, then mon
  local i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do rgw_stop_daemon "${DAEMONS[i]}" "${1:-term}" "${2:-}"; done
}

# Prints "command (pid N)" for whatever listens on TCP port $1 (any address), or nothing.
rgw_port_user() {
  local line
  line=$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n 1) || true
  [ -n "$line" ] || return 1
  if [[ $line =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
    echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]})"
  else
    echo "an unknown process"
  fi
}
