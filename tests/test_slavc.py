"SLAVC across modules: the command line trains it, a stopped run resumes to the same weights and momentum copies, and the open-set test scores it from a checkpoint with the method's own temperature."
import json, subprocess, sys
from pathlib import Path
import torch, torch.nn as nn
from torch.utils.data import DataLoader
from avl_nb.scenes import build_scenes
from avl_nb.data import collate_av
from avl_nb.train import load_checkpoint, read_log
from avl_nb.report import evaluate
from avl_nb.methods.slavc import open_set_split

ARGS = dict(image_encoder='effnet-lite0-s16', image_weights='imagenet', cache_image=True, audio_encoder='small',
            frontend='logmel', dim=16, vis_hidden=16, tau=0.1, img_dropout=0.5, momentum=0.9, obj_encoder='effnet-lite0-s32')
AVL = str(Path(sys.executable).parent / 'avl-nb')

def _train(root, out, epochs):
    r = subprocess.run([AVL, 'train', '--method', 'slavc', '--method-args', json.dumps(ARGS), '--data', str(root), '--out', str(out),
                        '--epochs', str(epochs), '--batch-size', '8', '--size', '64', '--lr', '1e-3', '--no-augment', '--quiet'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]

def test_cli_trains_slavc_resumes_exactly_and_scores_the_open_set(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=16, n_val=4, n_test=8, seconds=1.0)
    _train(root, tmp_path / 'straight', 3)
    _train(root, tmp_path / 'stopped', 2); _train(root, tmp_path / 'stopped', 3)          # stopped after epoch 2, resumed
    steps = [s for s in read_log(tmp_path / 'straight/log.jsonl') if s['kind'] == 'step']
    assert len(steps) == 6 and all(abs(s['loss'] - s['i2a'] - s['a2i']) < 1e-4 for s in steps)   # the loss is its two halves
    a, b = (load_checkpoint(tmp_path / d / 'last.pt')['model'] for d in ('straight', 'stopped'))
    assert a.keys() == b.keys() and any(k.startswith('mom.aproj.1.') for k in a)
    for k in a: assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5, rtol=1e-4), k     # dropout masks and copies too
    assert not torch.equal(a['mom.aproj.0.proj.weight'], a['aproj.0.proj.weight'])             # the copy lags
    r = subprocess.run([AVL, 'eval', '--ckpt', str(tmp_path / 'straight/last.pt'), '--split', 'test_open', '--protocol', 'slavc-test',
                        '--json', str(tmp_path / 'eval.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((tmp_path / 'eval.json').read_text())
    assert (s['n'], s['n_negative']) == (16, 8) and 0 <= s['ap'] <= 1 and 0 <= s['max_f1'] <= 1

class _Flat(nn.Module):
    "A method whose map is the same cosine `c` everywhere, divided by its temperature (`map_tau`, if set, wins over `tau`)."
    def __init__(self, c, tau, map_tau=None):
        super().__init__(); self.w, self.c, self.tau = nn.Parameter(torch.zeros(1)), c, tau
        if map_tau is not None: self.map_tau = map_tau
    def localize(self, image, audio): return torch.full((len(image), 4, 4), self.c / (self.map_tau if hasattr(self, 'map_tau') else self.tau))

def test_absolute_scores_use_the_methods_own_temperature(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=4, n_val=2, n_test=4, seconds=1.0)
    dl = DataLoader(open_set_split(root, size=64), batch_size=4, collate_fn=collate_av)
    for m in (_Flat(0.6, 0.1), _Flat(0.6, 0.07, map_tau=1.0)):        # cos 0.6 scores (0.6 + 1) / 2 = 0.8 on either scale
        r = evaluate(m, dl, 'slavc-test', summary=False).results()
        assert torch.allclose(r['conf'], torch.full((8,), 0.8, dtype=torch.float64), atol=1e-6)
        assert r['negative'].tolist() == [False, True] * 4
    r = evaluate(_Flat(0.6, 0.1), dl, 'slavc-test', tau=0.03, summary=False).results()            # the protocol's τ on a τ = 0.1 map
    assert torch.allclose(r['conf'], torch.full((8,), (6 + 1 / 0.03) / (2 / 0.03), dtype=torch.float64), atol=1e-6)
