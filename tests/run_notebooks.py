"""Run every notebook's tests, as `nbdev_test` does, longest first.

`nbdev_test` starts the notebooks in name order, so with two workers the longest one (a study late in the numbering)
starts last and runs alone at the end. Starting the notebooks in decreasing order of their last measured time
(`tests/notebook_seconds.json`; a notebook not listed there counts as the longest) lets the short ones fill in
beside it. `--record` writes this run's times back to that file."""
import json, sys, time
from pathlib import Path
from fastcore.parallel import parallel
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import test_nb, _keep_file

TIMES = Path(__file__).with_name('notebook_seconds.json')

def main(names=(), record:bool=False, n_workers:int=2):
    cfg = get_config()
    files = [f.absolute() for f in nbglob(cfg.nbs_path, as_path=True) if _keep_file(f, '.notest') and (not names or f.stem in names)]
    known = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    files.sort(key=lambda f: -known.get(f.name, float('inf')))
    t0 = time.time()
    results = parallel(test_nb, files, skip_flags=cfg.tst_flags.split(), force_flags=[], n_workers=n_workers,
                       basepath=cfg.config_path, pause=0.01, do_print=True)
    passed, times = zip(*results)
    for f, t in sorted(zip(files, times), key=lambda o: -o[1]): print(f'{f.name}: {t:.0f} s')
    print(f'all notebooks: {time.time() - t0:.0f} s on {n_workers} workers')
    if record: TIMES.write_text(json.dumps({f.name: round(t) for f, t in zip(files, times)}, indent=1, sort_keys=True) + '\n')
    failed = [f.name for p, f in zip(passed, files) if not p]
    if failed: sys.exit('notebooks failed: ' + ', '.join(failed))
    print('Success.')

if __name__ == '__main__':   # python tests/run_notebooks.py [--record] [notebook names, e.g. 00_core]: all by default
    main([a for a in sys.argv[1:] if not a.startswith('--')], record='--record' in sys.argv)
