#!/usr/bin/env bash
# Installs everything cnnlab needs on a fresh Debian machine with Python 3.11 and pip:
# Debian packages (Fashion-MNIST, Chromium for the browser test, MathJax served locally),
# a virtual environment in .venv with requirements.txt, and cnnlab itself (editable).
# Safe to run again: each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

apt_packages=(dataset-fashion-mnist chromium libjs-mathjax fonts-mathjax bubblewrap postgresql)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=.venv/.cnnlab-requirements
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] creating .venv and installing requirements.txt"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  .venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cnnlab)" >/dev/null
  echo "$want" > "$stamp"
fi
echo "[setup] ready: $(.venv/bin/python -c 'import cnnlab, torch, numpy; print("cnnlab", cnnlab.__version__, "| torch", torch.__version__, "| numpy", numpy.__version__, "| device", cnnlab.device())')"
