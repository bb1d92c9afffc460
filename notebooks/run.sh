#!/usr/bin/env bash
# Execute every notebook headless, in order, and fail when a cell fails.
# Executed copies (with outputs) go to $OUT (default /tmp/vigil-notebooks);
# the notebooks in the repository stay cleared. Figures and other outputs
# of the notebooks themselves are under bin/notebooks/.
#
# Needs Debian's jupyter-nbconvert, python3-ipykernel, python3-pandas,
# python3-matplotlib and python3-sklearn (see README.md); /usr/bin comes
# first on PATH so that the kernel is Debian's python3, not a pyenv one.
set -euo pipefail
cd "$(dirname "$0")"
export PATH=/usr/bin:/usr/local/go/bin:$PATH
OUT=${OUT:-/tmp/vigil-notebooks}
mkdir -p "$OUT"
export PYDEVD_DISABLE_FILE_VALIDATION=1
for nb in [0-9][0-9]-*.ipynb; do
  start=$SECONDS
  # --ExecutePreprocessor.timeout bounds each cell; a failing cell makes nbconvert exit non-zero.
  jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=python3 \
    --ExecutePreprocessor.timeout=300 --output-dir "$OUT" "$nb" 2> "$OUT/${nb%.ipynb}.log" || {
    echo "notebooks: $nb failed; the end of its log ($OUT/${nb%.ipynb}.log):" >&2
    grep -v -e 'Debugger warning' -e 'frozen modules' -e 'Debugging will proceed' "$OUT/${nb%.ipynb}.log" | tail -25 >&2
    exit 1
  }
  echo "notebooks: $nb ok in $((SECONDS - start))s -> $OUT/$nb"
done
