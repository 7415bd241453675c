"""The explorer end to end in a real browser: JupyterLab on localhost, Debian's Chromium driven by Playwright, a
notebook that builds the explorer run in its kernel; the threshold slider moved, the sound swapped, the GT mask
hidden, the plot checked for change after each, and a screenshot saved to `outputs/e2e/explorer.png`."""
import json, os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from playwright.sync_api import sync_playwright, expect, TimeoutError as PlaywrightTimeout

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
SHOT = Path(__file__).resolve().parent.parent / 'outputs' / 'e2e' / 'explorer.png'

CELLS = ["""from avl_nb.scenes import build_scenes
from avl_nb.methods.ezvsl import CPU_ARGS, EZVSL, scene_split
from avl_nb.explorer import HeatmapExplorer
import torch
root = build_scenes('scenes', ['violin', 'trumpet', 'drum_kit'], size=96, n_train=8, n_val=4, n_test=6, seconds=1.0)
torch.manual_seed(0)
method = EZVSL(**{**CPU_ARGS, 'cache_image': False})   # untrained: the test is about the interface, not the model""",
         "ex = HeatmapExplorer({'EZ-VSL (untrained)': method}, scene_split(root, 'test'))\nex"]

def _notebook(path):
    cells = [{'cell_type': 'code', 'execution_count': None, 'id': f'c{k}', 'metadata': {}, 'outputs': [], 'source': src}
             for k, src in enumerate(CELLS)]
    path.write_text(json.dumps({'cells': cells, 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}},
                                'nbformat': 4, 'nbformat_minor': 5}))

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server on a free localhost port, serving `tmp_path`, with private config and runtime folders."
    port, token = _free_port(), 'avl-nb-e2e'
    settings = tmp_path / '.settings' / '@jupyterlab'                   # no news toast; start the notebook's kernel unasked
    for ext, js in (('apputils-extension/notification', '{"fetchNews": "false"}'),
                    ('notebook-extension/tracker', '{"autoStartDefaultKernel": true}')):
        f = settings / f'{ext}.jupyterlab-settings'; f.parent.mkdir(parents=True, exist_ok=True); f.write_text(js)
    settings = settings.parent
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(tmp_path / '.cfg'), 'JUPYTER_RUNTIME_DIR': str(tmp_path / '.run'),
           'JUPYTER_DATA_DIR': str(tmp_path / '.data'), 'JUPYTERLAB_SETTINGS_DIR': str(settings),
           'PYTHONPATH': str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--allow-root', f'--port={port}',
                             '--ServerApp.ip=127.0.0.1', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={tmp_path}',
                             '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / 'lab.log', 'w'))
    url = f'http://127.0.0.1:{port}'
    for _ in range(120):
        try: urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2); break
        except Exception: time.sleep(0.5)
    else:
        proc.kill(); raise RuntimeError('JupyterLab did not start:\n' + (tmp_path / 'lab.log').read_text()[-3000:])
    yield url, token
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()

def test_explorer_in_jupyterlab_with_chromium(lab, tmp_path):
    if not Path(CHROMIUM).exists(): pytest.fail(f'{CHROMIUM} not found: `make test` installs Debian\'s chromium (apt-get install chromium)')
    url, token = lab
    _notebook(tmp_path / 'explorer.ipynb')
    req = urllib.request.Request(f'{url}/api/sessions?token={token}', method='POST', headers={'Content-Type': 'application/json'},
                                 data=json.dumps({'path': 'explorer.ipynb', 'type': 'notebook', 'name': 'explorer.ipynb',
                                                  'kernel': {'name': 'python3'}}).encode())
    urllib.request.urlopen(req, timeout=60)                              # its kernel runs before the page opens: no kernel dialog
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        page.set_default_timeout(180_000); expect.set_options(timeout=180_000)
        try: _drive(page, url, token)
        except Exception:
            SHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOT.with_name('explorer-failed.png')), full_page=True)   # what the browser showed
            raise
        finally: browser.close()

def _drive(page, url, token):
    "Open the notebook, run it, move the threshold, swap the sound, hide the GT mask; check the plot after each; save a screenshot."
    page.goto(f'{url}/lab/tree/explorer.ipynb?token={token}')
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
    select = page.locator('.jp-Dialog .jp-mod-accept')                 # a "Select Kernel" dialog, if Lab still asks
    try: select.wait_for(state='visible', timeout=5_000); select.click()
    except PlaywrightTimeout: pass
    page.locator('.lm-MenuBar-itemLabel', has_text='Run').first.click()   # Run > Run All Cells
    page.locator('.lm-Menu-itemLabel', has_text='Run All Cells').first.click()
    plot = page.locator('.js-plotly-plot').first
    expect(plot).to_be_visible()
    info = page.locator('.widget-html', has_text='sound:').first
    expect(info).to_contain_text('own sound')
    page.wait_for_timeout(1500)                                       # let plotly finish drawing
    before = plot.screenshot()

    threshold = page.locator('.widget-slider', has_text='threshold').first
    readout = threshold.locator('.widget-readout')
    start = readout.inner_text()
    threshold.locator('.noUi-handle').focus()
    for _ in range(15): page.keyboard.press('ArrowRight')             # move the slider up by 0.15 (or to its end)
    expect(readout).not_to_have_text(start)
    page.wait_for_timeout(1500)
    after_threshold = plot.screenshot()
    assert after_threshold != before, 'moving the threshold did not change the plot'

    sound = page.locator('.widget-dropdown', has_text='sound').locator('select')
    other = [o for o in sound.locator('option').all_inner_texts() if o.startswith('object')][0]
    sound.select_option(label=other)
    expect(info).to_contain_text(other)
    page.wait_for_timeout(1500)
    after_sound = plot.screenshot()
    assert after_sound != after_threshold, "swapping the sound did not change the plot"
    expect(page.locator('audio')).to_have_count(1)

    mask = page.locator('.widget-checkbox', has_text='GT mask').locator('input')
    mask.uncheck(); page.wait_for_timeout(1500)                        # the mask's outline goes, and comes back
    assert plot.screenshot() != after_sound, 'hiding the GT mask did not change the plot'
    mask.check(); page.wait_for_timeout(1500)
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOT), full_page=True)
