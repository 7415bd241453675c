"""Run every notebook's tests, as `nbdev_test` does, longest first; then check that its prose quotes what it printed.

`nbdev_test` starts the notebooks in name order, so with two workers the longest one (a study late in the numbering)
starts last and runs alone at the end. Starting the notebooks in decreasing order of their last measured time
(`tests/notebook_seconds.json`; a notebook not listed there counts as the longest) lets the short ones fill in
beside it. `--record` writes this run's times back to that file.

Each notebook runs as nbdev's `test_nb` runs it (cells marked `eval: false`, `slow`, `notest` or `gpu` skipped), and
the outputs of this run are then checked against its prose: a number written with two or three decimals in a
markdown cell (outside code spans) must be one the notebook prints, at that precision — an output number with at
least as many decimals that rounds to it — or appear in the notebook's code (a parameter). Skipped cells count with
their saved outputs (recorded studies). A number that is neither, such as a constant explained in the prose or a
number quoted from another notebook or a paper, is listed in an HTML comment of its cell,
`<!-- not an output: 0.25 0.75 -->`, which says so to the reader of the source. So a result sentence cannot go
stale: when a change moves a result, the run fails until the prose says the new number."""
import json, os, re, sys, time
from pathlib import Path
from fastcore.foundation import working_directory
from fastcore.parallel import parallel
from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.process import NBProcessor
from nbdev.frontmatter import FrontmatterProc
from nbdev.test import _keep_file

TIMES = Path(__file__).with_name('notebook_seconds.json')
UNCHECKED = {'index.ipynb'}        # the README's copy: its figures come from the benchmark scripts, named beside each

CODE_SPAN = re.compile(r'```.*?```|`[^`\n]*`', re.S)
EXEMPT = re.compile(r'<!--\s*not an output:(.*?)-->', re.S)
QUOTED = re.compile(r'(?<![\w.])\d+\.\d{2,3}(?!\.?\d)')
NUMBER = re.compile(r'(?<![\w.])\d+\.\d+(?!\.?\d)')

def _texts(cell):
    "The text of a code cell's outputs: streams, and the plain, HTML and markdown forms of results."
    for o in cell.get('outputs', []) or []:
        if 'text' in o: yield ''.join(o['text'])
        for k, v in (o.get('data') or {}).items():
            if k in ('text/plain', 'text/html', 'text/markdown'): yield ''.join(v)

def unquoted(nb) -> list:
    "(cell id, number, context) for each number of the prose that the outputs, the code and the cell's exemptions lack."
    printed = [m.group(0) for c in nb.cells if c.cell_type == 'code' for t in _texts(c) for m in NUMBER.finditer(t)]
    printed = [(float(p), len(p.split('.')[1])) for p in printed]
    code = {m.group(0) for c in nb.cells if c.cell_type == 'code' for m in NUMBER.finditer(c.source)}
    bad = []
    for c in nb.cells:
        if c.cell_type != 'markdown': continue
        exempt = {w for e in EXEMPT.findall(c.source) for w in e.split()}
        prose = EXEMPT.sub(' ', CODE_SPAN.sub(' ', c.source))
        for m in QUOTED.finditer(prose):
            q, d = m.group(0), len(m.group(0).split('.')[1])
            if q in exempt or q in code: continue
            if any(n >= d and abs(v - float(q)) <= 0.5 * 10 ** -d + 1e-9 for v, n in printed): continue
            bad.append((c.get('id'), q, ' '.join(prose[max(0, m.start() - 60):m.end() + 30].split())))
    return bad

def test_nb(fn, skip_flags=(), basepath=None):
    "nbdev's `test_nb`, keeping the executed notebook: (passed, seconds, unquoted numbers)."
    if basepath: sys.path.insert(0, str(basepath))
    os.environ['IN_TEST'] = '1'
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    def skip(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: return True
        direc = getattr(cell, 'directives_', {}) or {}
        return direc.get('eval:', [''])[0].lower() == 'false' or bool(set(skip_flags) & direc.keys())
    for c in nb.cells:
        if not skip(c): c.outputs = []                     # this run's outputs only, for the cells it runs
    start, shell = time.time(), CaptureShell(fn)
    print(f'Starting {fn}', flush=True)
    try:
        with working_directory(fn.parent): shell.run_all(nb, exc_stop=True, preproc=skip)
    except BaseException:                                  # as nbdev: a cell's SystemExit is a failure too
        sys.stderr.write(shell.prettytb(fname=fn) + '\n')
        return False, time.time() - start, []
    print(f'- Completed {fn}', flush=True)
    return True, time.time() - start, ([] if fn.name in UNCHECKED else unquoted(nb))

def main(names=(), record:bool=False, n_workers:int=2):
    cfg = get_config()
    files = [f.absolute() for f in nbglob(cfg.nbs_path, as_path=True) if _keep_file(f, '.notest') and (not names or f.stem in names)]
    known = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    files.sort(key=lambda f: -known.get(f.name, float('inf')))
    t0 = time.time()
    results = parallel(test_nb, files, skip_flags=cfg.tst_flags.split(), n_workers=n_workers, basepath=cfg.config_path, pause=0.01)
    passed, times, quotes = zip(*results)
    for f, t in sorted(zip(files, times), key=lambda o: -o[1]): print(f'{f.name}: {t:.0f} s')
    print(f'all notebooks: {time.time() - t0:.0f} s on {n_workers} workers')
    if record: TIMES.write_text(json.dumps({f.name: round(t) for f, t in zip(files, times)}, indent=1, sort_keys=True) + '\n')
    failed = [f.name for p, f in zip(passed, files) if not p]
    stale = [(f.name, *q) for f, qs in zip(files, quotes) for q in qs]
    for name, cell, q, ctx in stale: print(f'{name} (cell {cell}): {q} is not among the numbers this run printed: "…{ctx}…"')
    if failed: sys.exit('notebooks failed: ' + ', '.join(failed))
    if stale: sys.exit(f'{len(stale)} numbers in the prose are not what the notebooks printed (see above)')
    print('Success.')

if __name__ == '__main__':   # python tests/run_notebooks.py [--record] [notebook names, e.g. 00_core]: all by default
    # run from the module, not from `__main__`: a worker that has run a notebook has IPython's `__main__`, in which
    # `test_nb` could not be found for its next notebook
    sys.path.insert(0, str(Path(__file__).parent))
    from run_notebooks import main as run
    run([a for a in sys.argv[1:] if not a.startswith('--')], record='--record' in sys.argv)
