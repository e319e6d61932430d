#!/usr/bin/env bash
# Runs examples/custom_model.rs in a real terminal (tmux) so that burn-train shows its TUI
# dashboard, waits until FPTT has trained for a while, and saves the screen as text.
#
#   scripts/capture_dashboard.sh [OUTPUT] [SECONDS]
#
# OUTPUT defaults to docs/dashboard.txt; SECONDS (default 20) is how long training runs before
# the capture. The run is then stopped through burn-train's interrupter (`q`, then `s`), which
# keeps its last checkpoint. Needs tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/dashboard.txt}"
wait_s="${2:-20}"
session="burn-fptt-dashboard-$$"
dir="$(mktemp -d)/run"

command -v tmux >/dev/null || { echo "tmux is needed (apt-get install tmux)" >&2; exit 1; }
cargo build --release --features train --example custom_model
binary="${CARGO_TARGET_DIR:-target}/release/examples/custom_model"

tmux new-session -d -s "$session" -x 160 -y 48 \
    "$binary --dir $dir --epochs 100; echo finished; sleep 600"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
sleep "$wait_s"
mkdir -p "$(dirname "$out")"
tmux capture-pane -t "$session" -p > "$out"
# Stop the training through the TUI: q opens the quit popup, s stops and keeps the checkpoint.
tmux send-keys -t "$session" q
sleep 1
tmux send-keys -t "$session" s
sleep 5
tmux send-keys -t "$session" q
echo "captured $out after $wait_s s:"
cat "$out"
if grep -q "Spike rate" "$out"; then
    echo "the capture shows the spike-rate metric"
else
    echo "warning: no spike-rate metric on the captured screen" >&2
fi
