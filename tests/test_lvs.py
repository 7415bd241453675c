"LVS from the command line: trains on a scene set with its own loss (region scores logged), and a checkpoint scores under the reference's `lvs` protocol."
import json, subprocess, sys
from pathlib import Path
from avl_nb.scenes import build_scenes
from avl_nb.train import read_log
from avl_nb.methods.ezvsl import CPU_ARGS

def test_cli_trains_lvs_and_scores_it_under_the_lvs_protocol(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=16, n_val=4, n_test=8, seconds=1.0)
    avl = str(Path(sys.executable).parent / 'avl-nb')
    args = {**CPU_ARGS, 'heads': True, 'diag': 'mask'}
    r = subprocess.run([avl, 'train', '--method', 'lvs', '--method-args', json.dumps(args), '--data', str(root), '--out',
                        str(tmp_path / 'run'), '--epochs', '2', '--batch-size', '8', '--size', '64', '--lr', '1e-3',
                        '--no-augment', '--quiet'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    steps = [s for s in read_log(tmp_path / 'run/log.jsonl') if s['kind'] == 'step']
    assert len(steps) == 4 and all(-1 <= s['hard'] <= 1 and -1 <= s['pos'] <= 1 for s in steps)   # region scores are cosines
    r = subprocess.run([avl, 'eval', '--ckpt', str(tmp_path / 'run/last.pt'), '--split', 'test', '--protocol', 'lvs',
                        '--json', str(tmp_path / 'eval.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / 'eval.json').read_text())['n'] == 8

def test_lvs_in_both_directions_is_rebuilt_from_its_config_with_the_second_direction_on():
    "A checkpoint rebuilds `LVS(both_directions=True)` from its recorded arguments: the same loss, above the released one."
    import torch
    from avl_nb.method import method_config, make_method
    from avl_nb.methods.lvs import LVS
    torch.manual_seed(0)
    args = {**CPU_ARGS, 'image_weights': None, 'cache_image': False, 'heads': True}
    both = LVS(**args, both_directions=True)
    config = method_config(both)
    assert config['method_args']['both_directions'] is True
    again, released = make_method(config['method'], config['method_args']), LVS(**args)
    again.load_state_dict(both.state_dict()); released.load_state_dict(both.state_dict())
    v, a = both.embed(torch.randn(6, 3, 64, 64), torch.randn(6, 16000))
    loss = both.losses(v, a)['loss']
    assert torch.equal(again.losses(v, a)['loss'], loss)
    assert released.losses(v, a)['loss'] < loss               # the second direction adds a cross-entropy, which is > 0
