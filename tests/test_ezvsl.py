"EZ-VSL across modules: the reference loss value and its properties, and `avl-nb train` on scene data giving a model that localises the sound (well above its shuffled-audio control), scored from the checkpoint alone."
import json, os, subprocess, sys
from pathlib import Path
import pytest, torch, torch.nn.functional as F
from torch.utils.data import DataLoader
from avl_nb.methods.ezvsl import ezvsl_loss, ezvsl_logits, CPU_ARGS, EZVSL, scene_split
from avl_nb.data import collate_av
from avl_nb.report import score_controls
from avl_nb.train import load_checkpoint

def det(shape, off):
    "RNG-free inputs, sin(0.7311 * i + off) over the flat index i; the value below is what the released max_xmil loss (https://github.com/stoneMo/EZ-VSL, model.py) gives on them in float64."
    n = int(torch.tensor(shape).prod())
    return torch.sin(torch.arange(n, dtype=torch.float64) * 0.7311 + off).reshape(shape)

def test_reference_value():
    img, aud = F.normalize(det((8, 2048, 7, 7), 0.4), dim=1), F.normalize(det((8, 2048), 1.3), dim=1)
    assert abs(ezvsl_loss(img, aud).item() - 4.1588933985) < 1e-9
    assert abs(ezvsl_loss(img.float(), aud.float()).item() - 4.1588933985) < 1e-5     # float32, as trained
    assert abs(ezvsl_loss(img, aud, tau=0.1).item() - 4.1588933985) > 1e-7           # the value pins τ = 0.03

def test_one_location_maps_make_the_loss_symmetric_in_the_two_modalities():
    "With 1×1 maps the max is the identity: swapping the image and audio roles transposes the logits, and the sum of both cross-entropies does not change."
    g = torch.Generator().manual_seed(0)
    v, a = F.normalize(torch.randn(6, 16, generator=g, dtype=torch.float64), dim=1), F.normalize(torch.randn(6, 16, generator=g, dtype=torch.float64), dim=1)
    torch.testing.assert_close(ezvsl_logits(v[..., None, None], a), ezvsl_logits(a[..., None, None], v).T)
    torch.testing.assert_close(ezvsl_loss(v[..., None, None], a), ezvsl_loss(a[..., None, None], v))

def test_gradients_match_finite_differences():
    g = torch.Generator().manual_seed(1)
    img = torch.randn(4, 8, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    aud = torch.randn(4, 8, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda i, a: ezvsl_loss(F.normalize(i, dim=1), F.normalize(a, dim=1), 0.5), (img, aud))

@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from avl_nb.scenes import build_scenes
    return build_scenes(tmp_path_factory.mktemp('scenes') / 'instruments', 'instruments', size=96, n_train=480,
                        n_val=40, n_test=120, seconds=2.0)

def test_cli_trains_ezvsl_that_listens(scenes, tmp_path):
    "`avl-nb train --method ezvsl` on a scene set, then `avl-nb eval` from the checkpoint alone; the same model with shuffled audio is the control."
    args = ['--method', 'ezvsl', '--method-args', json.dumps(CPU_ARGS), '--data', str(scenes), '--out', str(tmp_path / 'run'),
            '--epochs', '10', '--batch-size', '32', '--lr', '1e-3', '--size', '96', '--seconds', '1.0', '--no-augment', '--quiet']
    # batch 32 gives 150 steps. With batch 64 (75 steps) seed 0 stayed near its control on one machine (pointing 0.16-0.18
    # against 0.09) while seeds 1 and 2 learned (0.57, 0.74); with batch 32 the three seeds were 0.58, 0.30, 0.52 against
    # 0.21, 0.16, 0.20 there: at this budget single runs vary, so the margin asked is 0.1
    bin_dir = Path(sys.executable).parent
    r = subprocess.run([str(bin_dir / 'avl-nb'), 'train', *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([str(bin_dir / 'avl-nb'), 'eval', '--ckpt', str(tmp_path / 'run/last.pt'), '--split', 'test',
                        '--json', str(tmp_path / 'eval.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    ours = json.loads((tmp_path / 'eval.json').read_text())
    st = load_checkpoint(tmp_path / 'run/last.pt')
    m = EZVSL(**st['config']['method_args']); m.load_state_dict(st['model'])
    rows = score_controls(m, DataLoader(scene_split(scenes, 'test'), batch_size=60, collate_fn=collate_av), ogl=False)
    assert abs(rows['AV']['pointing'] - ours['pointing']) < 1e-9          # the CLI's eval scores the same model
    assert ours['pointing'] > rows['shuffled audio']['pointing'] + 0.1, (ours, rows['shuffled audio'])
    assert ours['auc'] > rows['shuffled audio']['auc'] + 0.03

def test_validation_changes_nothing_in_training(tmp_path):
    "`seed_study` skips the per-epoch validation: that is only safe if scoring 'val' leaves the training bit-identical (no RNG draws, no state)."
    from avl_nb.scenes import build_scenes
    from avl_nb.methods.ezvsl import train_on_scenes
    from avl_nb.methods.fnac import FNAC
    from avl_nb.core import set_seed
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=32, n_val=8, n_test=8, seconds=1.0)
    for build in (lambda: EZVSL(**CPU_ARGS), lambda: FNAC(**CPU_ARGS, warmup=1)):   # FNAC: dropout and masks draw in training
        states = []
        for validate in (True, False):
            set_seed(0); m = build()
            learn = train_on_scenes(root, seed=0, epochs=2, batch_size=8, size=64, method=m, validate=validate)
            states.append(m.state_dict())
            assert ('valid_pointing' in learn.history[-1]) == validate
        for k in states[0]: assert torch.equal(states[0][k], states[1][k]), k

def test_a_notebooks_own_run_checks_a_record_as_a_seed_study_run_would(tmp_path):
    "`trained_study` scores a model trained outside `seed_study` (with per-epoch validation) exactly as `seed_study` scores its run of the same seed, so `recorded_study` can check a record against it; a model of another seed fails the check."
    from avl_nb.scenes import build_scenes
    from avl_nb.methods.ezvsl import train_on_scenes
    from avl_nb.recipe import seed_study, trained_study, record_study, recorded_study
    from avl_nb.core import set_seed
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=32, n_val=8, n_test=8, seconds=1.0)
    recipe = dict(epochs=2, batch_size=8, size=64)
    study = seed_study(root, {'EZ-VSL': lambda: EZVSL(**CPU_ARGS)}, seeds=(0, 1), splits=('test',), ogl=False, **recipe)
    rec = record_study(study, tmp_path / 'study.json')
    own = {}
    for seed in (0, 1):
        set_seed(seed); own[seed] = EZVSL(**CPU_ARGS)
        train_on_scenes(root, seed=seed, method=own[seed], validate=True, **recipe)
    here = trained_study(root, {'EZ-VSL': own[0]}, splits=('test',), ogl=False, **recipe)
    assert here['scores']['EZ-VSL']['test'][0] == study['scores']['EZ-VSL']['test'][0]
    recorded_study(rec, check=here)                                          # passes: equal to the bit
    wrong = trained_study(root, {'EZ-VSL': own[1]}, splits=('test',), ogl=False, **recipe)     # seed 1's model called seed 0
    with pytest.raises(AssertionError, match='stale'): recorded_study(rec, check=wrong)
