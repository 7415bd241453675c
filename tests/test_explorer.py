"The explorer driven headless, as a reader drives it: set a control's value or click, and check what changed in the figure, the player and the text."
import json, re, time
import numpy as np, torch
from avl_nb.scenes import build_scenes
from avl_nb.methods.ezvsl import CPU_ARGS, EZVSL, scene_split
from avl_nb.explorer import HeatmapExplorer, explain, sound_choices, heard_gt, gt_layers, protocol_ciou, AS_GIVEN

def test_controls_change_what_they_should(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=4, n_val=2, n_test=5, seconds=1.0)
    ds = scene_split(root, 'test', size=64)
    torch.manual_seed(0)
    a, b = EZVSL(**{**CPU_ARGS, 'cache_image': False}), EZVSL(**{**CPU_ARGS, 'cache_image': False})
    ex = HeatmapExplorer({'a': a, 'b': b}, ds, export_dir=tmp_path / 'png')
    A, B = ('a', AS_GIVEN), ('b', AS_GIVEN)
    v = explain(a, ds[0]['image'], ds[0]['audio'], ds[0]['gt_map'])
    assert torch.allclose(ex.views[A]['map'], v['map'], atol=1e-4)       # the view shows `explain`'s map
    pic = ex.figs[0].data[0].source
    ex.sound.value = ex.sound.options[1]                                 # another object's sound
    assert ex.figs[0].data[0].source != pic and not torch.allclose(ex.views[A]['map'], v['map'], atol=1e-4)
    assert torch.equal(sound_choices(ds, 0)[ex.sound.value].wave, ex._choices[ex.sound.value].wave)
    assert ex.audio.value[:4] == b'RIFF' and ex.sound.value in ex.info.value
    heard = heard_gt(ds, 0, ex._choices[ex.sound.value])                 # the GT follows the sound
    assert heard['label'] == ex.sound.value.split(': ')[1] and f"heard {heard['label']}" in ex.info.value
    yellow = [s for s in ex.figs[0].layout.shapes if s.line.color == 'yellow']
    assert np.allclose([yellow[0].x0 + .5, yellow[0].x1 + .5], [gt_layers(heard)[0][0][0], gt_layers(heard)[0][0][2]])
    ex.threshold.value = 0.95
    t = float(re.search(r'cIoU ([0-9.]+) at 0.95 \(yours\)', ex.figs[0].layout.title.text).group(1))
    assert abs(t - protocol_ciou(ex.views[A]['raw'][0], heard['gt_map'], ex.views[A]['protocol'], 0.95)) < 5e-4
    ex.reset.click(); assert ex.threshold.value == min(ex.views[A]['cut'], 1.0) and "protocol's" in ex.figs[0].layout.title.text
    ex.beside.value = B; assert len(ex._panel.children) == 2 and set(ex.views) == {A, B}
    ex.order.value = 'best cIoU first'; ex.sample.value = 1
    best = ex.index(); assert ex.cious('a')[best] == ex.cious('a').max()
    ex.sample.value = 5; ex.order.value = 'dataset'; assert ex.index() == 4
    ex.next.click(); assert ex.index() == 0                               # wraps round
    lo = float(ex.cious('a').median()); ex.ciou_range.value = (lo, 1.0)  # the better half (ties kept)
    kept = [int(k) for k in torch.nonzero(ex.cious('a') >= lo)]
    assert ex.sample.max == len(kept) and ex.index() == kept[0]
    for k in range(1, len(kept) + 1): ex.sample.value = k; assert ex.views[A]['ciou'] >= lo   # the filter and the view agree
    png = ex.save_png(); assert png.read_bytes()[:4] == b'\x89PNG' and png.parent == tmp_path / 'png'
    ex.close()

def test_run_folders_checkpoints_and_open_set_data(tmp_path):
    "A run folder written by `avl-nb train`: its checkpoints offered and loaded, its own test split opened; data without GT browsed."
    from avl_nb.cli import main
    from avl_nb.methods.slavc import open_set_split
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=8, n_val=2, n_test=40, seconds=1.0)
    main(['train', '--method', 'ezvsl', '--data', str(root), '--out', str(tmp_path / 'run'), '--epochs', '1', '--batch-size', '4',
          '--size', '64', '--seconds', '1.0', '--quiet', '--method-args', json.dumps({**CPU_ARGS, 'cache_image': False})])
    ex = HeatmapExplorer({'ezvsl': tmp_path / 'run'})                   # the split comes from the run's config
    assert list(ex.checkpoint.options) == ['best.pt', 'last.pt'] and len(ex.ds) == 40 and ex.ds[0]['image'].shape[-1] == 64
    ex.checkpoint.value = 'last.pt'; assert '(last.pt)' in ex.info.value and ('ezvsl', 'last.pt') in ex._loaded
    for _ in range(600):                                                 # the background thread scores the checkpoint on show
        if len(ex._raw.get(('ezvsl', 'last.pt'), {})) == ex._n_chunks: break
        time.sleep(0.1)
    assert len(ex._raw[('ezvsl', 'last.pt')]) == ex._n_chunks             # ... before anything asked for the scores
    from torch.utils.data import DataLoader
    from avl_nb.data import collate_av
    from avl_nb.report import evaluate
    ref = evaluate(ex.model('ezvsl', 'last.pt'), DataLoader(ex.ds, batch_size=7, collate_fn=collate_av), 'ezvsl-test', summary=False).results()['ciou']
    assert torch.allclose(ex.cious('ezvsl', 'last.pt').double(), ref.double(), atol=1e-5)   # the scores `avl-nb eval` gives
    ex.beside.value = ('ezvsl', 'best.pt'); assert len(ex.views) == 2      # two checkpoints of one run, side by side
    ods = open_set_split(root, 'test', 64, 1.0, ex.ds.sr)                # real-data style: boxes only, negatives without GT
    neg = next(i for i in range(len(ods)) if not ods[i]['gt_map'].any())
    ex2 = HeatmapExplorer({'ezvsl': tmp_path / 'run'}, ods)
    ex2.sample.value = neg + 1
    assert 'no GT' in ex2.info.value and len(ex2.figs[0].layout.shapes) == 0
    assert len(ex2.sound.options) == 2                                   # its own sound and the next sample's
    ex.close(); ex2.close()
