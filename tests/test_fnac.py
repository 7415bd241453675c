"FNAC from the command line: registered by name, built from JSON arguments, its terms logged, the warm-up honoured, and the checkpoint alone enough to evaluate it."
import json, subprocess, sys
from pathlib import Path
from avl_nb.train import read_log

def test_cli_trains_fnac_with_its_warmup(tmp_path):
    args = dict(image_encoder='resnet18', image_weights=None, audio_encoder='small', dim=16, sr=4000, warmup=1,
                obj_encoder='effnet-lite0-s32')
    avl = str(Path(sys.executable).parent / 'avl-nb')
    r = subprocess.run([avl, 'train', '--method', 'fnac', '--method-args', json.dumps(args), '--data', 'toy',
                        '--out', str(tmp_path / 'run'), '--epochs', '2', '--batch-size', '32', '--lr', '1e-3',
                        '--weight-decay', '1e-4', '--quiet'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    steps = [s for s in read_log(tmp_path / 'run/log.jsonl') if s['kind'] == 'step']
    assert {s['epoch'] for s in steps} == {0, 1}
    for s in steps:                                   # epoch 0: the contrastive term alone; then + 100 × the three regularisers
        reg = 100 * (s['fns1'] + s['tne'] + s['fns2'])
        assert reg > 0 and abs(s['loss'] - (s['cl'] + (reg if s['epoch'] == 1 else 0))) < 1e-3 * max(1, s['loss'])
    r = subprocess.run([avl, 'eval', '--ckpt', str(tmp_path / 'run/last.pt'), '--split', 'test', '--protocol', 'ezvsl-test',
                        '--json', str(tmp_path / 'eval.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((tmp_path / 'eval.json').read_text())
    assert s['n'] == 128 and 0 <= s['ciou50'] <= 1
