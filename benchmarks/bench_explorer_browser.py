"""Time the heatmap explorer in a real browser (JupyterLab on localhost, Debian's Chromium through Playwright, a
1000 px window), as a reader uses it: the first view after its cell runs, the next sample (the sample slider moved
with the keyboard, which every version has), ordering 300 test samples by cIoU, another protocol with that order
kept. With `--baseline CHECKOUT` (another checkout of this repository, e.g. `git worktree add /tmp/old <ref>`) the
same steps are timed on its explorer in the same run, alternating, and the ratios printed.

    python benchmarks/bench_explorer_browser.py --rounds 3 --baseline /tmp/old
"""
import argparse, json, re, shutil, statistics, sys, tempfile, time
from pathlib import Path
from playwright.sync_api import sync_playwright, expect

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / 'tests'))
from jupyter_lab import running_lab, start_kernel, write_notebook

CELLS = ["""import json
from avl_nb.scenes import build_scenes
from avl_nb.methods.ezvsl import CPU_ARGS
from avl_nb.cli import main
from avl_nb.explorer import HeatmapExplorer
root = build_scenes('scenes', ['violin', 'trumpet', 'drum_kit'], size=96, n_train=8, n_val=4, n_test=300, seconds=1.0)
main(['train', '--method', 'ezvsl', '--data', str(root), '--out', 'run', '--epochs', '1', '--batch-size', '4', '--size', '96',
      '--seconds', '1.0', '--quiet', '--method-args', json.dumps({**CPU_ARGS, 'cache_image': False})])""",
         "ex = HeatmapExplorer({'EZ-VSL': 'run'})\nex"]

def _run_cell(page, k):
    cell = page.locator('.jp-Notebook .jp-Cell').nth(k)
    cell.locator('.jp-InputArea-editor').click(); page.keyboard.press('Shift+Enter')
    expect(cell.locator('.jp-InputPrompt')).to_have_text(re.compile(r'\[\d+\]'))

def _seconds(f):
    t = time.monotonic(); f(); return time.monotonic() - t

def time_checkout(checkout:Path, chromium:str) -> dict:
    "One round of the four timings on the explorer of `checkout`."
    with tempfile.TemporaryDirectory() as d, running_lab(Path(d), checkout) as (url, token):
        write_notebook(Path(d) / 'explorer.ipynb', CELLS); start_kernel(url, token, 'explorer.ipynb')
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=['--no-sandbox'])
            page = browser.new_page(viewport={'width': 1000, 'height': 1500})
            page.set_default_timeout(180_000); expect.set_options(timeout=180_000)
            page.goto(f'{url}/lab/tree/explorer.ipynb?token={token}')
            page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
            _run_cell(page, 0)
            info, plot = page.locator('.widget-html', has_text='sound:').first, page.locator('.js-plotly-plot').first
            out = {'first view': _seconds(lambda: (_run_cell(page, 1), expect(info).to_contain_text('sample 1 of 300'), expect(plot).to_be_visible()))}
            page.wait_for_timeout(1500)
            handle, steps = page.locator('.widget-slider', has_text='sample').first.locator('.noUi-handle'), []
            for k in range(2, 7):
                handle.focus()
                steps.append(_seconds(lambda: (page.keyboard.press('ArrowRight'), expect(info).to_contain_text(f'sample {k} of 300'))))
            out['next sample'] = statistics.median(steps)
            order = page.locator('.widget-dropdown', has_text='order').locator('select')
            out['order 300 samples'] = _seconds(lambda: (order.select_option(label='worst cIoU first'), expect(info).to_contain_text('worst cIoU first')))
            protocol = page.locator('.widget-dropdown', has_text='protocol').locator('select')
            out['another protocol'] = _seconds(lambda: (protocol.select_option(label='slavc-test'), expect(info).to_contain_text('slavc-test')))
            browser.close()
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rounds', type=int, default=3, help='rounds (each times every checkout once, alternating)')
    ap.add_argument('--baseline', type=Path, help='another checkout of this repository to time in the same run')
    ap.add_argument('--chromium', default=shutil.which('chromium') or '/usr/bin/chromium', help='the browser to drive')
    a = ap.parse_args()
    runs = {'this checkout': HERE, **({'baseline': a.baseline.resolve()} if a.baseline else {})}
    got = {k: [] for k in runs}
    for r in range(a.rounds):
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            got[name].append(time_checkout(runs[name], a.chromium)); print(name, r, json.dumps(got[name][-1]), flush=True)
    med = {n: {k: statistics.median(g[k] for g in gs) for k in gs[0]} for n, gs in got.items()}
    print(f"\nmedian of {a.rounds} rounds, seconds" + (' (baseline / this checkout)' if a.baseline else ''))
    for k in med['this checkout']:
        line = f"{k:>18}: {med['this checkout'][k]:.2f}"
        if a.baseline: line += f"   baseline {med['baseline'][k]:.2f}   {med['baseline'][k] / med['this checkout'][k]:.1f}x"
        print(line)

if __name__ == '__main__': main()
