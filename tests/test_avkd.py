"AVKD from the command line: teachers named by strings (a PANNs Cnn14 checkpoint file, the packaged objectness map), their hints in the log, and a checkpoint that evaluates without the teachers' files."
import json, subprocess, sys
from pathlib import Path
import torch
from avl_nb.scenes import build_scenes
from avl_nb.methods.avkd import PANNsCnn14
from avl_nb.train import read_log, load_checkpoint

def test_cli_trains_avkd_and_evaluates_without_its_teachers(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=16, n_val=4, n_test=8, seconds=1.0)
    torch.manual_seed(0)
    torch.save({'model': PANNsCnn14().state_dict()}, tmp_path / 'Cnn14.pth')
    args = dict(audio_teacher=f"cnn14:{tmp_path / 'Cnn14.pth'}", visual_teacher='objectness', image_encoder='resnet18',
                image_weights=None, audio_encoder='small', frontend='logmel', obj_encoder='effnet-lite0-s32')
    avl = str(Path(sys.executable).parent / 'avl-nb')
    r = subprocess.run([avl, 'train', '--method', 'avkd', '--method-args', json.dumps(args), '--data', str(root),
                        '--out', str(tmp_path / 'run'), '--epochs', '2', '--batch-size', '8', '--size', '64', '--lr', '1e-4',
                        '--quiet'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    steps = [s for s in read_log(tmp_path / 'run/log.jsonl') if s['kind'] == 'step']
    assert len(steps) == 4
    for s in steps:                                               # EZ-VSL's loss plus the two weighted hints
        assert s['hint_audio'] > 0 and s['hint_image'] > 0 and s['no_visual_hint'] == 0
        assert abs(s['loss'] - (s['av'] + 1000 * s['hint_audio'] + 1e5 * s['hint_image'])) < 1e-4 * s['loss']
    st = load_checkpoint(tmp_path / 'run/last.pt')
    assert st['model']['aproj.proj.weight'].shape[0] == 2048        # the student's dim: Cnn14's embedding size
    assert not any(k.startswith(('_', 'audio_teacher', 'visual_teacher', 'conv_block')) for k in st['model'])
    (tmp_path / 'Cnn14.pth').unlink()                             # the teachers are not needed to evaluate
    r = subprocess.run([avl, 'eval', '--ckpt', str(tmp_path / 'run/last.pt'), '--split', 'test',
                        '--json', str(tmp_path / 'eval.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / 'eval.json').read_text())['n'] == 8
