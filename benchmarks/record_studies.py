"""Record the long studies of method notebooks (`nbs/records/*.json`), which the tests then check against a re-run seed.

A notebook's recording cells are its `eval: false` cells that call `record_study`. This script runs the notebook's cells
as the tests do (in its own folder, with one torch thread, as `tests/run_all.sh` runs the notebooks), those recording
cells included, and stops after the last of them: so the seeds the tests re-run are trained exactly as they will be
in CI. It writes nothing but the records; the notebook prints its tables from them the next time it runs.

    python benchmarks/record_studies.py nbs/21_avkd.ipynb [nbs/18_slavc.ipynb ...]    # one process each, two at a time
    python benchmarks/record_studies.py nbs/19_fnac.ipynb --only CELL_ID              # only that recording cell
"""
import os, sys
from pathlib import Path
KERNELS = Path(__file__).parents[1] / 'tests' / 'same_kernels.env'
os.environ.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',      # as the notebook tests run (tests/run_all.sh): the bits
                  **dict(l.split('=', 1) for l in KERNELS.read_text().splitlines() if l and not l.startswith('#')))  # depend
import argparse, re, subprocess, time                            # on the threads and on the kernels

RECORDING = re.compile(r'^#\|\s*eval:\s*false\s*$', re.M)
SKIP = re.compile(r'^#\|\s*(eval:\s*false|slow|notest|gpu)\s*$', re.M)

def record(nb_path:Path, only=()) -> int:
    "Run one notebook with its recording cells (those with the ids in `only`, if given); 0 on success."
    from execnb.nbio import read_nb
    from execnb.shell import CaptureShell
    nb = read_nb(nb_path)
    recording = lambda c: (c.cell_type == 'code' and RECORDING.search(c.source) and 'record_study(' in c.source
                           and (not only or c.id in only))
    last = max((k for k, c in enumerate(nb.cells) if recording(c)), default=-1)
    after = {id(c) for c in nb.cells[last + 1:]}                 # nothing after the last recording cell is needed
    skip = lambda c: (c.cell_type != 'code' or 'nbdev_export(' in c.source or id(c) in after
                      or (bool(SKIP.search(c.source)) and not recording(c)))
    n = sum(bool(recording(c)) for c in nb.cells)
    if not n: print(f'{nb_path}: no recording cell (`eval: false` calling record_study)'); return 1
    os.chdir(nb_path.parent); os.environ['IN_TEST'] = '1'
    t0, shell = time.time(), CaptureShell(nb_path)
    try: shell.run_all(nb, exc_stop=True, preproc=skip)
    except BaseException:
        sys.stderr.write(shell.prettytb(fname=nb_path) + '\n'); return 1
    print(f'{nb_path}: {n} recording cell(s) run, {time.time() - t0:.0f} s', flush=True)
    return 0

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('notebooks', nargs='+', type=Path, help='method notebooks whose studies to record')
    ap.add_argument('--parallel', type=int, default=2, help='notebooks recorded at once (one thread each)')
    ap.add_argument('--only', default='', help='comma-separated ids of the recording cells to run (default: all of them)')
    a = ap.parse_args()
    only = set(filter(None, a.only.split(',')))
    if len(a.notebooks) == 1: sys.exit(record(a.notebooks[0].absolute(), only))
    todo, running, failed = [p.absolute() for p in a.notebooks], [], []
    while todo or running:
        while todo and len(running) < a.parallel:
            p = todo.pop(0); running.append((p, subprocess.Popen([sys.executable, __file__, str(p), '--only', a.only])))
        time.sleep(2)
        for p, proc in list(running):
            if proc.poll() is not None:
                running.remove((p, proc))
                if proc.returncode: failed.append(p.name)
    if failed: sys.exit(f'failed: {failed}')
