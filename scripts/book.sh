#!/usr/bin/env bash
# Builds the book into _build/html, offline. Installs what it needs first (scripts/setup.sh).
# Notebooks run through Jupyter Book's execution cache (_build/.jupyter_cache): a rebuild with
# nothing changed executes nothing. Any cell error or Sphinx warning fails the build (-W).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# MathJax from Debian's libjs-mathjax, served from _static so pages need no network.
if [ ! -f _static/mathjax/MathJax.js ]; then
  mkdir -p _static/mathjax
  src=/usr/share/javascript/mathjax
  cp -rL "$src/MathJax.js" "$src/config" "$src/extensions" "$src/jax" _static/mathjax/
  mkdir -p _static/mathjax/fonts/HTML-CSS/TeX
  cp -rL "$src/fonts/HTML-CSS/TeX/woff" "$src/fonts/HTML-CSS/TeX/otf" _static/mathjax/fonts/HTML-CSS/TeX/
fi

export CNNLAB_STATIC_WIDGETS=1   # widgets draw their static figure in the rendered pages
export MPLBACKEND=Agg
export PYTHONHASHSEED=0
start=$(date +%s)
.venv/bin/jupyter-book build . -W -n --keep-going --builder html "$@"
echo "[book] built _build/html/index.html in $(( $(date +%s) - start )) s"
