#!/usr/bin/env bash
# End-to-end test of the workbench in tmux at 100x30: every pane, a 2-epoch training started from
# the Train pane, the run compared in the Compare pane, quit, and a check that the terminal came back (main screen, cooked mode).
#
#   scripts/tui-e2e.sh               # uses ./target/debug/vqtex (built if missing), no arguments
#   VQTEX_BIN=path scripts/tui-e2e.sh
#   TUI_E2E_ONLY=watch scripts/tui-e2e.sh   # only the `vqtex watch` case
#   TUI_E2E_ONLY=nocolor scripts/tui-e2e.sh # only the NO_COLOR case
#
# Runs, logs and config go to a temporary HOME/XDG dirs, so nothing of the user's is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v tmux >/dev/null || { echo "tui-e2e: tmux is not installed" >&2; exit 2; }
BIN=${VQTEX_BIN:-./target/debug/vqtex}
if [[ ! -x $BIN ]]; then cargo build; fi
BIN=$(realpath "$BIN")

TMP=$(mktemp -d)
S="vqtex-e2e-$$"
cleanup() { tmux kill-session -t "$S" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

screen() { tmux capture-pane -t "$S" -p; }
fail() {
  echo "tui-e2e: FAIL: $*" >&2
  echo "---- screen ----" >&2; screen >&2 || true
  echo "---- log ----" >&2; tail -n 20 "$TMP"/data/vqtex/vqtex.log 2>/dev/null >&2 || true
  exit 1
}
# wait_for TEXT [SECONDS], wait_re REGEX [SECONDS]: wait until the screen holds TEXT: a fixed string (wait_for) or an extended regular expression
# (wait_re; a release build may train past a state before the first look).
wait_grep() {
  local how=$1 text=$2 secs=${3:-20} t=0
  while ! screen | grep -q "$how" -- "$text"; do
    sleep 0.5; t=$((t + 1))
    (( t > secs * 2 )) && fail "'$text' did not appear within ${secs}s"
  done
  echo "tui-e2e: ok: $text"
}
wait_for() { wait_grep -F "$@"; }
wait_re() { wait_grep -E "$@"; }
key() { tmux send-keys -t "$S" "$@"; sleep 0.4; }

# `vqtex watch NAME` of a run a headless `vqtex train` writes: read-only (s is refused, no second
# run appears), the header says when the run finished, and a hang-up (the tmux session killed)
# logs no panic.
watch_case() {
  local runs="$TMP/watch-runs" envs="HOME='$TMP/home' XDG_DATA_HOME='$TMP/data' XDG_CONFIG_HOME='$TMP/config'"
  mkdir -p "$runs" "$TMP/home" "$TMP/data" "$TMP/config"
  env HOME="$TMP/home" XDG_DATA_HOME="$TMP/data" XDG_CONFIG_HOME="$TMP/config" \
    "$BIN" train --data sample-data --epochs 40 --run "$runs/vqvae-watched" -q \
    > "$TMP/train.out" 2>&1 &
  local t=0
  while [[ ! -f $runs/vqvae-watched/metrics.jsonl ]]; do
    sleep 0.2; t=$((t + 1)); (( t > 300 )) && fail "the headless training did not start"
  done
  tmux kill-session -t "$S" 2>/dev/null || true
  S="vqtex-e2e-watch-$$"
  tmux new-session -d -s "$S" -x 200 -y 40 \
    "cd '$PWD' && env $envs COLORTERM=truecolor '$BIN' watch vqvae-watched --runs-dir '$runs'; \
     echo VQTEX-EXITED rc=\$?; sleep 60"
  wait_for "● watching vqvae-watched" 60
  # The data's "loaded" message would replace the refusal: wait for it first.
  wait_for "loaded 550 ROIs" 60
  key s; wait_for "watching vqvae-watched: read-only;" 5
  key Space; wait_for "watching vqvae-watched: read-only; it cannot be paused" 5
  [[ $(ls "$runs" | wc -l) -eq 1 ]] || fail "a second run appeared: $(ls "$runs")"
  wait_for "○ watched run finished at" 300
  screen | grep -qF "● watching" && fail "the header still says watching"
  wait
  # A hang-up: the terminal goes away under the workbench.
  tmux kill-session -t "$S"
  sleep 2
  grep -qiE "panicked|panic at" "$TMP/data/vqtex/vqtex.log" && fail "a hang-up logged a panic: $(grep -iE 'panic' "$TMP/data/vqtex/vqtex.log" | tail -n 3)"
  grep -qF "stopped by SIGHUP" "$TMP/data/vqtex/vqtex.log" || fail "the hang-up was not logged"
  echo "tui-e2e: ok: watch is read-only and says when the run finished; a hang-up logs no panic"
}
# NO_COLOR: the chrome loses its colours, the images keep their greys (truecolor SGR in the
# Data pane's thumbnails, read back with capture-pane -e).
nocolor_case() {
  tmux kill-session -t "$S" 2>/dev/null || true
  S="vqtex-e2e-nocolor-$$"
  tmux new-session -d -s "$S" -x 100 -y 30 \
    "cd '$PWD' && exec env HOME='$TMP/home' XDG_DATA_HOME='$TMP/data' XDG_CONFIG_HOME='$TMP/config' \
     NO_COLOR=1 COLORTERM=truecolor '$BIN' --runs-dir '$TMP/nocolor-runs'"
  wait_for "Patients 55/55" 60
  sleep 1
  tmux capture-pane -e -p -t "$S" | grep -qE $'\e\\[[0-9;]*[34]8;2;' \
    || fail "NO_COLOR: the images lost their greys"
  echo "tui-e2e: ok: NO_COLOR keeps the images' greys"
  tmux send-keys -t "$S" q
}
if [[ ${TUI_E2E_ONLY:-} == nocolor ]]; then nocolor_case; echo "tui-e2e: PASS"; exit 0; fi
if [[ ${TUI_E2E_ONLY:-} == watch ]]; then watch_case; echo "tui-e2e: PASS"; exit 0; fi

mkdir -p "$TMP/home" "$TMP/data" "$TMP/config"
tmux new-session -d -s "$S" -x 100 -y 30 \
  "cd '$PWD' && env HOME='$TMP/home' XDG_DATA_HOME='$TMP/data' XDG_CONFIG_HOME='$TMP/config' \
   COLORTERM=truecolor '$BIN'; echo VQTEX-EXITED rc=\$?; stty -a > '$TMP/stty'; sleep 60"

# 1 Data: the sample data loads.
wait_for "1 Data  2 Train" 60
wait_for "Patients 55/55 · 550 ROIs" 60
wait_for "mean " 5

# The other panes, before any run exists.
key 3; wait_for "No run open" 10
key 4; wait_for "No run open" 10
key 5; wait_for "protocol: paper split" 10
wait_for "no run open" 5
key 6; wait_for "uns in " 10
key 7; wait_for "Mark runs with space" 10
key 8; wait_for "No frames folder open" 10
key '?'; wait_for "Keys · " 5; screen | grep -qE "Keys · ([0-9]+ keys|1-[0-9]+ of [0-9]+)" || fail "the help title does not count the keys"
# The help overlay filters: '/' then text; esc clears the filter, a second esc closes it.
key /; key z o o m; wait_for "Picker: zoom out" 5
screen | grep -qF "Data pane" && fail "the help filter let everything through"
key Escape; wait_for "Data pane" 5
key '?'; sleep 0.5
screen | grep -qF "Keys · " && fail "help did not close"

# 2 Train: 2 epochs, start, wait for the end.
key 2; wait_for "Hyperparameters" 5
# The model field cycles through every model and back.
wait_for "◀ vqvae ▶" 5
key Right; wait_for "◀ cae ▶" 5
key Left; wait_for "◀ vqvae ▶" 5
key j; key Enter; wait_for "Set epochs" 5
key C-u; key 2; key Enter
wait_for "epochs        2" 5
# A release build trains the 2 epochs in under a second: the marker may be gone already.
key s; wait_re "● training|finished in" 30
wait_for "finished in" 600
wait_for "Reconstructions · epoch 2" 120

# The finished run feeds the other panes.
key 3; wait_for "Per-ROI metrics" 180
wait_for "Test means (n = " 5
key 4; wait_for "Traversal · variable 0/31" 10
wait_for "+2.0 sd" 180
# Edit the anchor's code map: one cell's code up, decoded at once; i again leaves the editor.
key i; wait_for "Code map · editing" 10
key +; wait_for "1 of 49 cells changed · decoded" 60
key i
key 5; key r; wait_for "done: " 300
wait_for "latents (vqtex)" 5
key 6; wait_for "finished" 20
wait_for "2/2" 5
# 7 Compare: mark the run (space, in Runs), evaluate it: Table 1 and Table 2.
key Space; wait_for "[1] vqvae" 5
key 7; wait_for "[1] vqvae" 5
key r; wait_for "Table 1 · reconstruction" 300
wait_for "mark a second run" 5
# Tab goes on to the ROI picker (8), and from the last pane back round to Data.
key Tab; wait_for "No frames folder open" 5
key Tab; wait_for "Patients 55/55" 5
# u: the ROIs by out-of-distribution score against the open run, then back to the patients.
key u; wait_for "Unusual ROIs vs" 180
wait_for "reconstruction MSE" 10
key u; wait_for "Patients 55/55" 5

# Quit; the shell's screen is back and the tty is in cooked mode again.
key q
wait_for "VQTEX-EXITED rc=0" 30
sleep 0.5
grep -qE '(^| )icanon' "$TMP/stty" || fail "the terminal was left in raw mode: $(cat "$TMP/stty")"
grep -qE '(^| )echo( |$)' "$TMP/stty" || fail "echo is still off"
screen | grep -qF "1 Data  2 Train" && fail "the alternate screen was not left"
# The workbench logged to the one log file main set up (it once set up a second, silently failing).
grep -qF "workbench starts" "$TMP/data/vqtex/vqtex.log" || fail "the workbench wrote nothing to vqtex.log"
watch_case
nocolor_case
echo "tui-e2e: PASS"
