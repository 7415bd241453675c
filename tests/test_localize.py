"""Videos in, heatmaps out, with other draws than the `localize` notebook's: training videos rendered with other
recordings (render seed 1) and trained with another seed (2). A model trained on prepared videos localises far above
shuffled audio, and on switching clips of the validation scenes (the notebook uses test scenes) its peak moves from
the first sounding object to the second far more often than in steady clips of the same scenes, where it almost
never moves. (Whether the video trip costs a few points against the same pairs without video is a many-seed question
the notebook discusses; one seed cannot test it.)"""
import json
import numpy as np, pytest
from torch.utils.data import DataLoader
from avl_nb.core import cache_dir
from avl_nb.scenes import build_scenes
from avl_nb.prepare import render_scene_videos, prepare_videos
from avl_nb.recipe import RunRecipe, scene_split
from avl_nb.report import score_controls
from avl_nb.data import collate_av
from avl_nb.methods.ezvsl import CPU_ARGS
from avl_nb.localize import load_localizer, localize_video

RECIPE = dict(method='ezvsl', method_args=CPU_ARGS, size=96, seconds=1.0, augment=False, batch_size=128, lr=1e-3, epochs=4,
              validate=False, seed=2)

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "The instruments scenes, their training videos prepared, and EZ-VSL trained on them."
    d = tmp_path_factory.mktemp('videos')
    root = build_scenes(cache_dir('scenes', 'ezvsl-instruments-96'), 'instruments', size=96, n_train=1200, n_val=100, n_test=300, seconds=2.0)
    man = render_scene_videos(root, d / 'train', 'train', kinds=('low',), broken=(), n=600, turns=6, seed=1)
    prepare_videos(d / 'train', d / 'prepared', window=1.0, fps=1, progress=False)
    runs, scores = {}, {}
    test = DataLoader(scene_split(root, 'test'), batch_size=100, collate_fn=collate_av)
    for arm in ('prepared',):
        runs[arm] = d / arm / 'run'
        learn = RunRecipe(data=str(d / arm / 'spec.json'), **RECIPE).run(runs[arm], progress=False)
        scores[arm] = score_controls(learn.method, test, 'ezvsl-test', ogl=False)
    return root, d, runs, scores

def test_a_model_trained_on_prepared_videos_localises(trained):
    _, _, _, s = trained
    pv, sh = s['prepared']['AV']['pointing'], s['prepared']['shuffled audio']['pointing']
    print(f'pointing {pv:.3f} trained on prepared videos, {sh:.3f} with shuffled audio')
    assert pv > sh + 0.15

def _moved(root, d, run, kind):
    "Per clip of the validation scenes: is the peak on object B more often after the sound's midpoint, and not more often on A?"
    meta = json.loads((root / 'val' / 'scenes.json').read_text())['scenes']
    man = render_scene_videos(root, d / kind, 'val', kinds=(kind,), broken=())
    model, moved = load_localizer(run), []
    for m in man.values():
        objs, a = meta[m['scene']]['objects'], m['sources'][0][1]
        ts, b = m['sources'][1] if kind == 'switch' else (m['seconds'] / 2, next(i for i in range(len(objs)) if i != a))
        vh = localize_video(m['path'], model, map_fps=10)
        shift = np.round(2 * np.sin(np.pi * (vh.times - vh.span[0])))[:, None] * np.array([1, 0, 1, 0])   # the clip's drift
        on_a, on_b = vh.peak_in(np.array(objs[a]['box']) + shift), vh.peak_in(np.array(objs[b]['box']) + shift)
        first, second = vh.hears_within(0, ts), vh.hears_within(ts, m['seconds'])
        moved.append(on_b[second].mean() > on_b[first].mean() and on_a[second].mean() <= on_a[first].mean())
    return float(np.mean(moved))

def test_the_peak_follows_a_switching_sound(trained):
    root, d, runs, _ = trained
    switch, steady = _moved(root, d, runs['prepared'], 'switch'), _moved(root, d, runs['prepared'], 'steady')
    print(f'the peak moves from A to B in {switch:.0%} of switching clips, {steady:.0%} of steady ones')
    assert switch > steady + 0.3 and steady < 0.1
