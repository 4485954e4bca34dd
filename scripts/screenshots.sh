#!/usr/bin/env bash
# Regenerates the workbench's screenshots from its fixed sample state (`vqtex screenshot`, the
# state `vqtex bench --tui` draws): every pane at 80x24 and 200x60 in docs/screenshots/, and the
# README's picture, the Train pane at 120x36, in docs/screenshot.png. The same sources give the
# same PNG bytes, so a diff in git means the workbench looks different.
#
#   scripts/screenshots.sh                          # builds release first
#   VQTEX_BIN=target/debug/vqtex scripts/screenshots.sh   # an existing binary
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${VQTEX_BIN:-}
if [[ -z $bin ]]; then
    cargo build --release --quiet
    bin=target/release/vqtex
fi

out=docs/screenshots
mkdir -p "$out"
rm -f "$out"/*.png
for size in 80x24 200x60; do
    "$bin" screenshot --pane all --size "$size" --data sample-data --out "$out" >/dev/null
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" screenshot --pane train --size 120x36 --data sample-data --out "$tmp" >/dev/null
cp "$tmp/train-120x36.png" docs/screenshot.png

ls -l docs/screenshot.png "$out"/*.png | awk '{ n++; s += $5 } END { printf "%d PNGs, %.0f KB\n", n, s / 1024 }'
