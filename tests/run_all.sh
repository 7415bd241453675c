#!/usr/bin/env bash
# Every check, in CI's order: notebooks clean, library in sync, notebooks run, pytest last.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
set -a; . tests/same_kernels.env; set +a      # the same float kernels on every x86 machine (the file says why)

snapshot() { find nbs avl_nb \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha256sum; }

before=$(snapshot); nbdev_clean; after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev_clean changed these notebooks; run nbdev_clean and commit:"; diff <(echo "$before") <(echo "$after") || true; exit 1
fi
echo "ok: notebooks are clean"

before=$(snapshot); nbdev_export; after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "FAIL: avl_nb/ is out of sync with the notebooks; run nbdev_export and commit:"; diff <(echo "$before") <(echo "$after") || true; exit 1
fi
echo "ok: library in sync with the notebooks"

# The notebooks run as nbdev_test runs them, two at a time, but longest first (tests/run_notebooks.py says why), and
# with one torch thread each, or two notebooks would share two cores four ways (measured: a CPU-recipe training
# takes 36 s on one thread, 23 s on two, and about three times as long oversubscribed). pytest runs after them, on its
# own: run beside them, a two-process gloo test aborted once under the load (and the browser test needs the cores).
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout "${NBDEV_TEST_TIMEOUT:-2700}" python tests/run_notebooks.py
# pytest in two processes, one torch thread each, a test file per process at a time (--dist loadfile: a file's
# module fixtures are built once, and the torchrun tests of test_train.py never run beside each other)
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m pytest tests -n 2 --dist loadfile --durations=15 "$@"   # the slowest tests named
