"""The explorer end to end in a real browser: JupyterLab on localhost at a 1000 px wide window with the file browser
open, Debian's Chromium driven by Playwright, a notebook that trains a one-epoch run and opens it in the explorer. The
threshold moved, the sound swapped (the drawn GT must move to the heard object's box, read from the scene file), the
map hovered, the sample stepped, the order changed, a PNG exported; every control's width checked; the first view,
the next sample, the ordering and a protocol change timed (printed, and written to `outputs/e2e/explorer-timings.json`,
not asserted); screenshots saved to `outputs/e2e/`."""
import json, re, shutil, sys, time
import numpy as np
from pathlib import Path
import pytest
from playwright.sync_api import sync_playwright, expect, TimeoutError as PlaywrightTimeout
sys.path.insert(0, str(Path(__file__).resolve().parent))
from jupyter_lab import running_lab, start_kernel, write_notebook

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
SHOT = Path(__file__).resolve().parent.parent / 'outputs' / 'e2e' / 'explorer.png'

CELLS = ["""import json, time
from avl_nb.scenes import build_scenes
from avl_nb.methods.ezvsl import CPU_ARGS
from avl_nb.cli import main
from avl_nb.explorer import HeatmapExplorer
root = build_scenes('scenes', ['violin', 'trumpet', 'drum_kit'], size=96, n_train=8, n_val=4, n_test=300, seconds=1.0)
main(['train', '--method', 'ezvsl', '--data', str(root), '--out', 'run', '--epochs', '1', '--batch-size', '4', '--size', '96',
      '--seconds', '1.0', '--quiet', '--method-args', json.dumps({**CPU_ARGS, 'cache_image': False})])""",
         "ex = HeatmapExplorer({'EZ-VSL': 'run'}, export_dir='png')   # the README's call: a run folder\nex"]

@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server on a free localhost port, serving `tmp_path`, with private config and runtime folders."
    with running_lab(tmp_path, Path(__file__).resolve().parent.parent) as served: yield served

def test_explorer_in_jupyterlab_with_chromium(lab, tmp_path):
    if not Path(CHROMIUM).exists(): pytest.fail(f'{CHROMIUM} not found: `make test` installs Debian\'s chromium (apt-get install chromium)')
    url, token = lab
    write_notebook(tmp_path / 'explorer.ipynb', CELLS)
    start_kernel(url, token, 'explorer.ipynb')                           # its kernel runs before the page opens: no kernel dialog
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        page = browser.new_page(viewport={'width': 1000, 'height': 1500})
        page.set_default_timeout(180_000); expect.set_options(timeout=180_000)
        try: _drive(page, url, token, tmp_path)
        except Exception:
            SHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOT.with_name('explorer-failed.png')), full_page=True)   # what the browser showed
            raise
        finally: browser.close()

def _run_cell(page, k):
    "Run cell `k` as a reader does (click it, Shift+Enter) and wait until its prompt shows that it ran."
    cell = page.locator('.jp-Notebook .jp-Cell').nth(k)
    cell.locator('.jp-InputArea-editor').click()
    page.keyboard.press('Shift+Enter')
    expect(cell.locator('.jp-InputPrompt')).to_have_text(re.compile(r'\[\d+\]'))
    return cell

def _timed(wait, repeat=1):
    "Seconds until `wait()` returns (the browser has drawn what was asked)."
    t = time.monotonic(); wait(); return time.monotonic() - t

def _gd(page, what):
    "A property of the first plotly graph (`layout.shapes`, `layout.annotations`, ...) read from the page."
    return page.evaluate(f"() => JSON.parse(JSON.stringify(document.querySelector('.js-plotly-plot').{what}))")

def _heard_box(tmp_path, k, label):
    "The box (224 grid) of the object of class `label` in test scene `k`, from the scene set's own file."
    sj = json.loads((tmp_path / 'scenes' / 'test' / 'scenes.json').read_text())
    sid = sorted(sj['scenes'])[k] if not (tmp_path / 'scenes' / 'test' / 'metadata' / 'test.txt').exists() else \
        (tmp_path / 'scenes' / 'test' / 'metadata' / 'test.txt').read_text().split()[k]
    box, = [o['box'] for o in sj['scenes'][sid]['objects'] if o['class'] == label]
    side = sj['size'] if isinstance(sj['size'], (int, float)) else sj['size'][0]
    return [v * 224 / side for v in box]

def _yellow(page):
    return [[sh['x0'] + .5, sh['y0'] + .5, sh['x1'] + .5, sh['y1'] + .5] for sh in _gd(page, 'layout.shapes') if sh['line']['color'] == 'yellow']

def _drive(page, url, token, tmp_path):
    "Open the notebook, run it, and use the explorer as a reader does; check, time and photograph."
    page.goto(f'{url}/lab/tree/explorer.ipynb?token={token}')
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
    select = page.locator('.jp-Dialog .jp-mod-accept')                 # a "Select Kernel" dialog, if Lab still asks
    try: select.wait_for(state='visible', timeout=5_000); select.click()
    except PlaywrightTimeout: pass
    if not page.locator('#filebrowser').is_visible():                   # the file browser open, as a user works
        page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="filebrowser"]').click()
    expect(page.locator('#filebrowser')).to_be_visible()
    _run_cell(page, 0)                                                   # the data and a one-epoch run
    plot = page.locator('.js-plotly-plot').first
    info = page.locator('.widget-html', has_text='sound:').first
    picture = lambda: page.evaluate("() => document.querySelector('.js-plotly-plot .imagelayer image').getAttribute('href').length + ':' + document.querySelector('.js-plotly-plot .imagelayer image').getAttribute('href').slice(-60)")
    timings = {}

    def first_view():
        _run_cell(page, 1)
        expect(info).to_contain_text('sample 1 of 300'); expect(plot.locator('.imagelayer image')).to_have_count(1)
    timings['first view (s)'] = _timed(first_view)

    # the GT of the own sound, then of the swapped sound: the drawn box follows the object heard
    own_label = re.search(r'own sound \(([^)]+)\)', info.inner_text()).group(1)
    expect(plot.locator('.annotation-text', has_text=f'heard: {own_label}')).to_have_count(1)
    assert np.allclose(_yellow(page), [_heard_box(tmp_path, 0, own_label)], atol=224 / 96), 'the GT drawn is not the sounding object\'s box'
    sound = page.locator('.widget-dropdown', has_text='sound').locator('select')
    other = [o for o in sound.locator('option').all_inner_texts() if o.startswith('object')][0]
    before = picture()
    sound.select_option(label=other)
    expect(info).to_contain_text(other)
    heard = re.split(r':\s', other)[1]
    expect(plot.locator('.annotation-text', has_text=f'heard: {heard}')).to_have_count(1)
    assert np.allclose(_yellow(page), [_heard_box(tmp_path, 0, heard)], atol=224 / 96), 'the GT drawn did not move to the heard object'
    assert picture() != before, 'swapping the sound did not change the picture'
    expect(info).to_contain_text(f"its GT is the heard object's ({heard})")
    page.screenshot(path=str(SHOT.with_name('explorer-swapped.png')))
    expect(page.locator('audio')).to_have_count(1)

    # the threshold: moving it marks the view as the reader's
    threshold = page.locator('.widget-slider', has_text='threshold').first
    before = picture()
    threshold.locator('.noUi-handle').focus()
    for _ in range(15): page.keyboard.press('ArrowRight')
    expect(plot.locator('.gtitle')).to_contain_text('(yours)')
    assert picture() != before, 'moving the threshold did not change the picture'

    # hover gives the map's value
    box = plot.locator('.nsewdrag').first.bounding_box()
    page.mouse.move(box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
    expect(plot.locator('.hoverlayer .hovertext')).to_contain_text('map ')

    # the next sample, five times
    nxt = page.locator('button', has_text='▶')
    steps = []
    for k in range(2, 7):
        steps.append(_timed(lambda: (nxt.click(), expect(info).to_contain_text(f'sample {k} of 300'))))
    timings['next sample (s, median of 5)'] = float(np.median(steps))
    expect(plot.locator('.gtitle')).to_contain_text("(protocol's)")   # a new sample: the protocol's threshold again

    # order by cIoU (the background has been scoring since the first view), then another protocol
    order = page.locator('.widget-dropdown', has_text='order').locator('select')
    timings['order 300 samples (s)'] = _timed(lambda: (order.select_option(label='worst cIoU first'),
                                                       expect(info).to_contain_text('sample 6 of 300 (worst cIoU first')))
    protocol = page.locator('.widget-dropdown', has_text='protocol').locator('select')
    timings['change protocol, re-order (s)'] = _timed(lambda: (protocol.select_option(label='slavc-test'),
                                                               expect(info).to_contain_text('worst cIoU first, slavc-test')))

    # every control keeps a usable width at 1000 px with the file browser open, and none runs off the output area
    area = page.locator('.jp-OutputArea-output', has=page.locator('.js-plotly-plot')).first.bounding_box()
    right = area['x'] + area['width']
    widths = {}
    for s in page.locator('.jp-OutputArea-output .widget-slider, .jp-OutputArea-output .widget-hslider').all():
        name = s.locator('.widget-label').first.inner_text()
        track = s.locator('.noUi-target, .slider-container').first.bounding_box()
        widths[f'slider {name}'] = track['width']
        assert track['width'] >= 120, f'the {name} slider is {track["width"]:.0f} px wide'
        assert track['x'] + track['width'] <= right + 1, f'the {name} slider runs off the output area'
    for d in page.locator('.jp-OutputArea-output .widget-dropdown').all():
        name, sel = d.locator('.widget-label').first.inner_text(), d.locator('select').bounding_box()
        widths[f'menu {name}'] = sel['width']
        assert sel['width'] >= 120 and sel['x'] + sel['width'] <= right + 1, f'the {name} menu: {sel}'
    prot = page.evaluate("""() => { const s = [...document.querySelectorAll('.widget-dropdown')].find(d => d.innerText.includes('protocol')).querySelector('select');
                                    const c = document.createElement('canvas').getContext('2d'); c.font = getComputedStyle(s).font;
                                    return [s.clientWidth, Math.max(...[...s.options].map(o => c.measureText(o.text).width))]; }""")
    assert prot[0] >= prot[1] + 16, f'the protocol menu ({prot[0]} px) cuts its longest choice ({prot[1]:.0f} px)'
    expect(page.locator('.js-plotly-plot .modebar')).to_have_count(0)   # no toolbar over the titles
    widths['plot'] = plot.bounding_box()['width']
    assert plot.bounding_box()['width'] >= 400 and plot.bounding_box()['x'] + plot.bounding_box()['width'] <= right + 1

    # the spectrogram under the views, and the PNG export
    expect(page.locator('.widget-html', has_text='the model hears')).to_have_count(1)
    page.locator('button', has_text='save PNG').click()
    expect(page.locator('.widget-html', has_text='wrote')).to_contain_text('.png')
    assert list((tmp_path / 'png').glob('*.png')), 'no PNG written'
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOT))
    (SHOT.parent / 'explorer-timings.json').write_text(json.dumps({'timings': timings, 'widths_px': widths}, indent=1))
    print('explorer in Chromium at 1000 px:', json.dumps(timings), json.dumps(widths))
