#!/usr/bin/env bash
# Runs every test: installs what is needed, builds the book (executing every chapter; a cell
# error fails here), then runs pytest, which also checks the built site in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/book.sh
export MPLBACKEND=Agg
.venv/bin/python -m pytest "$@"
