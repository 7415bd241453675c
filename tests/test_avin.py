"AVIN from the command line: the paper's PANNs audio encoder loaded from a checkpoint file, kept frozen through training, the paper's learning rates by group, and the checkpoint alone enough to evaluate."
import json, subprocess, sys
from pathlib import Path
import torch
from avl_nb.scenes import build_scenes
from avl_nb.methods.avin import PANNsResNet22
from avl_nb.train import read_log, load_checkpoint

def test_cli_trains_avin_with_a_panns_checkpoint(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=16, n_val=4, n_test=8, seconds=1.0)
    torch.manual_seed(0)
    panns = PANNsResNet22(frozen=True).state_dict()            # the published layout: wrapped, with the AudioSet head
    torch.save({'model': panns | {'fc_audioset.weight': torch.randn(527, 2048), 'fc_audioset.bias': torch.zeros(527)}},
               tmp_path / 'ResNet22.pth')
    args = dict(audio_weights=str(tmp_path / 'ResNet22.pth'), image_encoder='resnet18-s16', image_weights=None, dim=32)
    avl = str(Path(sys.executable).parent / 'avl-nb')
    r = subprocess.run([avl, 'train', '--method', 'avin', '--method-args', json.dumps(args), '--data', str(root),
                        '--out', str(tmp_path / 'run'), '--epochs', '2', '--batch-size', '8', '--size', '64', '--lr', '1e-4',
                        '--lr-groups', 'method', '--weight-decay', '1e-4', '--protocol', 'avin', '--quiet'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    steps = [s for s in read_log(tmp_path / 'run/log.jsonl') if s['kind'] == 'step']
    assert len(steps) == 4 and all(abs(s['loss'] - s['l_con'] - s['l_ind']) < 1e-4 * s['loss'] for s in steps)
    st = load_checkpoint(tmp_path / 'run/last.pt')
    audio = {k[len('audio.module.'):]: v for k, v in st['model'].items() if k.startswith('audio.module.')}
    assert audio.keys() == panns.keys() and all(torch.equal(audio[k], panns[k]) for k in panns)   # frozen: BN statistics too
    assert sorted(g['lr'] for g in st['opt']['param_groups']) == [1e-5, 1e-4, 1e-4]
    r = subprocess.run([avl, 'eval', '--ckpt', str(tmp_path / 'run/last.pt'), '--split', 'test', '--protocol', 'avin',
                        '--json', str(tmp_path / 'eval.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((tmp_path / 'eval.json').read_text())
    assert s['n'] == 8 and 0 <= s['ciou50'] <= 1
