"The explorer driven headless, as a reader drives it: set a control's value or click, and check what changed in the figure, the player and the text."
import json
import numpy as np, torch
from avl_nb.scenes import build_scenes
from avl_nb.methods.ezvsl import CPU_ARGS, EZVSL, scene_split
from avl_nb.explorer import HeatmapExplorer, explain, sound_choices

def test_controls_change_what_they_should(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=4, n_val=2, n_test=5, seconds=1.0)
    ds = scene_split(root, 'test', size=64)
    torch.manual_seed(0)
    a, b = EZVSL(**{**CPU_ARGS, 'cache_image': False}), EZVSL(**{**CPU_ARGS, 'cache_image': False})
    ex = HeatmapExplorer({'a': a, 'b': b}, ds)
    z0 = np.array(ex.figs[0].data[1].z)
    v = explain(a, ds[0]['image'], ds[0]['audio'], ds[0]['gt_map'])
    assert np.allclose(z0, v['map'].numpy())                              # the figure shows `explain`'s map
    ex.sound.value = ex.sound.options[1]                                 # another object's sound
    assert not np.allclose(np.array(ex.figs[0].data[1].z), z0)
    assert torch.equal(sound_choices(ds, 0)[ex.sound.value][0], ex._choices[ex.sound.value][0])
    assert ex.audio.value[:4] == b'RIFF' and ex.sound.value in ex.info.value
    contour = np.array(ex.figs[0].data[2].z).sum()
    ex.threshold.value = 0.95; assert np.array(ex.figs[0].data[2].z).sum() < contour       # a higher cut marks less
    ex.reset.click(); assert abs(ex.threshold.value - round(ex.views['a']['cut'], 2)) < 1e-9
    ex.beside.value = 'b'; assert len(ex._panel.children) == 2 and set(ex.views) == {'a', 'b'}
    ex.order.value = 'best cIoU first'; ex.sample.value = 0
    best = ex.index(); assert ex.cious('a')[best] == ex.cious('a').max()
    ex.sample.value = 4; ex.order.value = 'dataset'; assert ex.index() == 4
    lo = float(ex.cious('a').median()); ex.ciou_range.value = (lo, 1.0)  # the better half (ties kept)
    kept = [int(k) for k in torch.nonzero(ex.cious('a') >= lo)]
    assert ex.sample.max == len(kept) - 1 and ex.index() == kept[min(4, len(kept) - 1)]

def test_run_folders_checkpoints_and_open_set_data(tmp_path):
    "A run folder written by `avl-nb train`: its checkpoints offered and loaded, its own test split opened; data without GT browsed."
    from avl_nb.cli import main
    from avl_nb.methods.slavc import open_set_split
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=8, n_val=2, n_test=4, seconds=1.0)
    main(['train', '--method', 'ezvsl', '--data', str(root), '--out', str(tmp_path / 'run'), '--epochs', '1', '--batch-size', '4',
          '--size', '64', '--seconds', '1.0', '--quiet', '--method-args', json.dumps({**CPU_ARGS, 'cache_image': False})])
    ex = HeatmapExplorer({'ezvsl': tmp_path / 'run'})                   # the split comes from the run's config
    assert list(ex.checkpoint.options) == ['best.pt', 'last.pt'] and len(ex.ds) == 4 and ex.ds[0]['image'].shape[-1] == 64
    ex.checkpoint.value = 'last.pt'; assert '(last.pt)' in ex.info.value and ('ezvsl', 'last.pt') in ex._loaded
    ods = open_set_split(root, 'test', 64, 1.0, ex.ds.sr)                # real-data style: boxes only, negatives without GT
    neg = next(i for i in range(len(ods)) if not ods[i]['gt_map'].any())
    ex2 = HeatmapExplorer({'ezvsl': tmp_path / 'run'}, ods)
    ex2.sample.value = neg
    assert 'no GT' in ex2.info.value and not ex2.figs[0].data[3].visible and len(ex2.figs[0].layout.shapes) == 0
    assert len(ex2.sound.options) == 2                                   # its own sound and the next sample's
