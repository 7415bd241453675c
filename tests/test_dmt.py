"DMT across modules: the command line trains both stages on a scene set, a stopped run resumes to the same weights, FNAC students keep their own schedule."
import json, subprocess, sys
from pathlib import Path
import torch
from avl_nb.scenes import build_scenes
from avl_nb.data import collate_av
from avl_nb.methods.ezvsl import scene_split
from avl_nb.methods.fnac import FNAC
from avl_nb.methods.dmt import DMT, SemiSupervised, StrongAugment, labelled_subset
from avl_nb.train import read_log, load_checkpoint

BASE = dict(image_encoder='effnet-lite0-s16', image_weights='imagenet', cache_image=True, audio_encoder='small',
            frontend='logmel', dim=32, tau=0.1, obj_encoder='effnet-lite0-s32')

def _scenes(tmp_path):
    return build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=32, n_val=4, n_test=8, seconds=1.0)

def _train(root, out, epochs):
    avl = str(Path(sys.executable).parent / 'avl-nb')
    args = dict(base='ezvsl', base_args=BASE, warmup_epochs=1, alpha=0.9, strong={'photometric': False})
    r = subprocess.run([avl, 'train', '--method', 'dmt', '--method-args', json.dumps(args), '--labelled-fraction', '0.25',
                        '--data', str(root), '--out', str(out), '--epochs', str(epochs), '--batch-size', '8', '--size', '64',
                        '--lr', '1e-3', '--no-augment', '--quiet'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]

def test_cli_trains_dmt_and_a_stopped_run_resumes_to_the_same_weights(tmp_path):
    root = _scenes(tmp_path)
    _train(root, tmp_path / 'straight', 3)
    _train(root, tmp_path / 'stopped', 2); _train(root, tmp_path / 'stopped', 3)       # stopped after epoch 2, resumed
    steps = [s for s in read_log(tmp_path / 'straight/log.jsonl') if s['kind'] == 'step']
    assert [s['epoch'] for s in steps] == [0] + [1] * 4 + [2] * 4                  # 8 labelled items: one warm-up batch of 8
    assert 'accept' not in steps[0] and all(0 <= s['accept'] <= 1 for s in steps[1:])
    a, b = (load_checkpoint(tmp_path / d / 'last.pt')['model'] for d in ('straight', 'stopped'))
    assert a.keys() == b.keys() and bool(a['started']) and int(a['n_steps']) == 9
    assert any(k.startswith('teachers.1.') for k in a)
    for k in a: assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5, rtol=1e-4), k
    t, s = a['teachers.0.aproj.proj.weight'], a['students.0.aproj.proj.weight']
    assert not torch.equal(t, s)                                                       # the teacher lags its student
    avl = str(Path(sys.executable).parent / 'avl-nb')
    r = subprocess.run([avl, 'eval', '--ckpt', str(tmp_path / 'straight/last.pt'), '--split', 'test', '--json',
                        str(tmp_path / 'eval.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / 'eval.json').read_text())['n'] == 8

def test_fnac_students_keep_their_warmup_and_losses(tmp_path):
    root = _scenes(tmp_path)
    tr = scene_split(root, 'train', size=64)
    ds = SemiSupervised(tr, labelled_subset(len(tr), 0.25))
    batch = collate_av([ds[i] for i in range(16)])
    torch.manual_seed(0)
    dmt = DMT(FNAC(**BASE, warmup=2), FNAC(**BASE, warmup=2), warmup_epochs=1, alpha=0.9, strong=StrongAugment(photometric=False)).train()
    for epoch, regularise in ((0, False), (1, False), (2, True)):
        dmt.on_epoch_begin(epoch)
        assert [s.regularise for s in dmt.students] == [regularise] * 2
    out = dmt(batch)
    assert torch.isfinite(out['loss']) and out['con'] > 0
    out['loss'].backward()
    assert all(p.grad is not None for p in dmt.students.parameters() if p.requires_grad)
    assert all(p.grad is None and not p.requires_grad for p in dmt.teachers.parameters())
