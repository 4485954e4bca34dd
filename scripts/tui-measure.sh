#!/usr/bin/env bash
# Measures the workbench for real in tmux at SIZE (default 100x30; issue 4's benchmarks (c) and (d)):
#   - idle CPU: utime+stime of the process over IDLE_SECS seconds (default 10) with the sample data
#     loaded and nothing happening;
#   - a training of EPOCHS epochs (default 20) started from the Train pane: its wall time, the bytes
#     the workbench wrote to the terminal meanwhile (tmux pipe-pane), and the peak memory (VmHWM)
#     read at its end.
#
#   scripts/tui-measure.sh                # uses ./target/release/vqtex (built if missing)
#   VQTEX_BIN=path EPOCHS=20 IDLE_SECS=10 SIZE=200x60 scripts/tui-measure.sh
#   KEEP_OUTPUT=FILE scripts/tui-measure.sh    # also keeps the bytes written while training
#
# Runs, logs and config go to a temporary HOME/XDG dirs, so nothing of the user's is touched.
# Prints `key: value` lines. Other load on the machine (builds) inflates the CPU and time figures.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v tmux >/dev/null || { echo "tui-measure: tmux is not installed" >&2; exit 2; }
BIN=${VQTEX_BIN:-./target/release/vqtex}
if [[ ! -x $BIN ]]; then cargo build --release; fi
BIN=$(realpath "$BIN")
EPOCHS=${EPOCHS:-20}
IDLE_SECS=${IDLE_SECS:-10}
SIZE=${SIZE:-100x30}
COLS=${SIZE%x*}
ROWS=${SIZE#*x}

TMP=$(mktemp -d)
S="vqtex-measure-$$"
cleanup() { tmux kill-session -t "$S" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

screen() { tmux capture-pane -t "$S" -p; }
fail() {
  echo "tui-measure: FAIL: $*" >&2
  echo "---- screen ----" >&2; screen >&2 || true
  exit 1
}
wait_for() {
  local text=$1 secs=${2:-20} t=0
  while ! screen | grep -qF -- "$text"; do
    sleep 0.5; t=$((t + 1))
    (( t > secs * 2 )) && fail "'$text' did not appear within ${secs}s"
  done
  return 0
}
key() { tmux send-keys -t "$S" "$@"; sleep 0.4; }
# CPU ticks (utime + stime) of the whole process; fields after the ')' of the command name.
ticks() { sed 's/.*) //' "/proc/$PID/stat" | awk '{ print $12 + $13 }'; }
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
now() { date +%s.%N; }

mkdir -p "$TMP/home" "$TMP/data" "$TMP/config"
# exec: the pane's process is vqtex itself, so its pid is the pane's.
tmux new-session -d -s "$S" -x "$COLS" -y "$ROWS" \
  "cd '$PWD' && exec env HOME='$TMP/home' XDG_DATA_HOME='$TMP/data' XDG_CONFIG_HOME='$TMP/config' \
   COLORTERM=truecolor '$BIN'"
PID=$(tmux display-message -p -t "$S" '#{pane_pid}')
[[ $(readlink "/proc/$PID/exe") == "$BIN" ]] || fail "pane pid $PID is not $BIN"

wait_for "Patients 55/55 · 550 ROIs" 60
sleep 2 # let the loading thread finish and the screen settle

HZ=$(getconf CLK_TCK)
t0=$(ticks); w0=$(now)
sleep "$IDLE_SECS"
t1=$(ticks); w1=$(now)
awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v w0="$w0" -v w1="$w1" 'BEGIN {
  printf "idle_seconds: %.2f\nidle_cpu_seconds: %.3f\nidle_cpu_percent: %.3f\n",
    w1 - w0, (b - a) / hz, 100 * (b - a) / hz / (w1 - w0) }'
echo "size: $SIZE"
echo "rss_idle_mb: $(awk -v k="$(status_kb VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"

key 2; wait_for "Hyperparameters" 5
# The form opens on its model field; epochs is the next one.
key Down; key Enter; wait_for "Set epochs" 5
key C-u; key "$EPOCHS"; key Enter
wait_for "epochs        $EPOCHS" 5
: > "$TMP/out"
tmux pipe-pane -o -t "$S" "cat >> '$TMP/out'"
ts=$(now)
key s; wait_for "● training" 60
wait_for "finished in" $((EPOCHS * 30 + 120))
te=$(now)
sleep 1
tmux pipe-pane -t "$S"
bytes=$(stat -c %s "$TMP/out")
[[ -n ${KEEP_OUTPUT:-} ]] && cp "$TMP/out" "$KEEP_OUTPUT"
awk -v s="$ts" -v e="$te" -v b="$bytes" -v n="$EPOCHS" 'BEGIN {
  printf "train_epochs: %d\ntrain_seconds: %.1f\ntrain_bytes_written: %d\ntrain_bytes_per_sec: %.0f\n",
    n, e - s, b, b / (e - s) }'
echo "peak_rss_mb: $(awk -v k="$(status_kb VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"

key q
for _ in $(seq 20); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
kill -0 "$PID" 2>/dev/null && fail "vqtex did not quit"
echo "tui-measure: done"
