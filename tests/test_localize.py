"""Videos in, heatmaps out, with other draws than the `localize` notebook's: training videos rendered with other
recordings (render seed 1) and trained with another seed (2). A model trained on prepared videos localises far above
shuffled audio, and on switching clips of the validation scenes (the notebook uses test scenes) its peak moves from
the first sounding object to the second far more often than in steady clips of the same scenes (paired by scene,
the whole 95 % interval of the difference well above zero). (Whether the video trip costs a few points against the same pairs without video is a many-seed question
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
from avl_nb.localize import scene_clip_shares, follows, follow_gap

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

N_SCENES = 60   # of the 100 validation scenes: a paired gap near +0.6 (the notebook's) keeps its 95 % interval far above 0.15

def _follows(root, d, run, kind):
    "Per clip of the first `N_SCENES` validation scenes, in scene order: does the peak go to object B after the sound's change (or midpoint), and not more to A?"
    man = render_scene_videos(root, d / kind, 'val', kinds=(kind,), broken=(), n=N_SCENES)
    return follows(np.stack(list(scene_clip_shares(run, man, root, 'val').values())))

def test_the_peak_follows_a_switching_sound(trained):
    root, d, runs, _ = trained
    switch, steady = _follows(root, d, runs['prepared'], 'switch'), _follows(root, d, runs['prepared'], 'steady')
    gap, (lo, _) = follow_gap(switch, steady)                          # paired: the same scene's two clips
    print(f'the peak follows in {switch.mean():.0%} of switching clips, {steady.mean():.0%} of steady ones; '
          f'the paired difference {gap:+.2f}, its 95 % interval from {lo:+.2f}')
    assert lo > 0.15
