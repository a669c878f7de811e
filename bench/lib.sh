# Helpers shared by bench/capture.sh and bench/snapshot.sh. Sourced after the script sets ROOT
# and defines die(); the functions read DSN, BROKERS and KAFKA_PID when they are called.

say() { printf '%s\n' "$*"; }
apt_install() {
  [ "$(id -u)" = 0 ] || die "$1 is missing and we are not root: apt-get install $1"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; } ||
    die "cannot install $*"
}
psql_q() { psql "$DSN" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }

# Sum of the high watermarks of a topic's partitions: with an idempotent, non-transactional
# producer and no retries that is the number of records in it.
topic_partitions() {
  kcat -b "$BROKERS" -L -t "$1" 2>/dev/null | sed -n 's/.* with \([0-9]*\) partitions.*/\1/p' | head -1
}
topic_count() {  # TOPIC [PARTITIONS]
  local topic="$1" parts="${2:-}" p total=0 off
  [ -n "$parts" ] || parts=$(topic_partitions "$topic")
  [ -n "$parts" ] || { echo 0; return; }
  for ((p = 0; p < parts; p++)); do
    off=$(kcat -b "$BROKERS" -Q -t "$topic:$p:-1" 2>/dev/null | awk '/offset/ { print $NF }')
    total=$((total + ${off:-0}))
  done
  echo "$total"
}

# Where the CPU went. A sampler writes "<cpu s of the process> <cpu s of its main thread>
# <s its main thread was runnable but waiting for a cpu>" (/proc/PID/stat and schedstat) every
# 100 ms into FILE until the process exits, so the last value survives it (a walsender leaves
# with its client).
HZ=$(getconf CLK_TCK)
proc_sampler() {  # PID FILE
  local pid="$1" file="$2"
  while [ -r "/proc/$pid/stat" ]; do
    awk -v hz="$HZ" 'FNR == NR { sub(/^.*\) /, ""); cpu = ($12 + $13) / hz; next }
      { printf "%.2f %.2f %.2f\n", cpu, $1 / 1e9, $2 / 1e9 }' \
      "/proc/$pid/stat" "/proc/$pid/schedstat" >"$file.tmp" 2>/dev/null && mv "$file.tmp" "$file"
    sleep 0.1
  done
}
field() { [ -s "$1" ] && cut -d' ' -f"$2" "$1" || echo "?"; }  # FILE N
walsender_pid() {
  local pid=""
  for _ in $(seq 100); do
    pid=$(psql_q -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$1' AND active")
    [ -n "$pid" ] && break
    sleep 0.02
  done
  echo "$pid"
}
# The Kafka broker's CPU seconds so far (all threads).
broker_cpu() {
  if [ -n "$KAFKA_PID" ] && [ -r "/proc/$KAFKA_PID/stat" ]; then
    awk -v hz="$HZ" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$KAFKA_PID/stat"
  else
    echo 0
  fi
}
