#!/usr/bin/env bash
# Builds the book into _build/html, offline. Installs what it needs first (scripts/setup.sh).
# Notebooks run through Jupyter Book's execution cache (_build/.jupyter_cache): a rebuild with
# nothing changed executes nothing. Any cell error or Sphinx warning fails the build (-W).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# MathJax 2 from Debian's libjs-mathjax, copied into the site (html_extra_path) so pages need no network.
if [ ! -f _mathjax/mathjax/MathJax.js ]; then
  mkdir -p _mathjax/mathjax/fonts/HTML-CSS/TeX
  src=/usr/share/javascript/mathjax
  cp -rL "$src/MathJax.js" "$src/config" "$src/extensions" "$src/jax" _mathjax/mathjax/
  cp -rL "$src/fonts/HTML-CSS/TeX/woff" "$src/fonts/HTML-CSS/TeX/otf" _mathjax/mathjax/fonts/HTML-CSS/TeX/
fi

# The execution cache knows a notebook's text, not the settings it ran under: another seed offset,
# thread count or device must execute every chapter again, as another machine would.
settings="CNNLAB_SEED_OFFSET=${CNNLAB_SEED_OFFSET:-0} OMP_NUM_THREADS=${OMP_NUM_THREADS:-default} CNNLAB_DEVICE=${CNNLAB_DEVICE:-auto}"
if [ -d _build/.jupyter_cache ] && [ "$(cat _build/.cnnlab-settings 2>/dev/null)" != "$settings" ]; then
  echo "[book] built before under other settings; executing every chapter again with $settings"
  rm -rf _build/.jupyter_cache
fi
mkdir -p _build && echo "$settings" > _build/.cnnlab-settings

export CNNLAB_STATIC_WIDGETS=1   # widgets draw their static figure in the rendered pages
export MPLBACKEND=Agg
export PYTHONHASHSEED=0
start=$(date +%s)
if ! .venv/bin/jupyter-book build . -W -n --keep-going --builder html "$@"; then
  # Show the saved tracebacks of failed notebooks, so a CI log says which cell broke and why.
  # myst-nb keeps the folder structure: book/NN.ipynb's report is reports/book/NN.err.log.
  find _build/html/reports -name '*.err.log' 2>/dev/null | while read -r report; do
    echo "=== $report"; tail -n 40 "$report"
  done
  echo "[book] build FAILED (cell error or Sphinx warning, see above)" >&2
  exit 1
fi
echo "[book] built _build/html/index.html in $(( $(date +%s) - start )) s"
