"The training engine across processes: a killed run resumes exactly, DDP with gathered negatives equals one process."
import json, os, subprocess, sys
from pathlib import Path
import pytest, torch
from avl_nb.core import DataError
from avl_nb.train import Learner, DataLoaders, NaNGuardCB, load_checkpoint, make_loaders, read_log, save_checkpoint
from avl_nb.toy import ToyAV, ToyMethod

HERE = Path(__file__).parent
SCRIPT = str(HERE / 'train_toy.py')

def run(args, torchrun=0):
    cmd = ([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(torchrun), '--master_port', '29533']
           if torchrun else [sys.executable]) + [SCRIPT] + args
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'))

def weights(path): return torch.load(path, weights_only=True)

def test_killed_run_resumes_to_the_same_weights(tmp_path):
    "SIGKILL mid-epoch (step 9 of 6 per epoch, last checkpoint at step 8), resume: weights equal an uninterrupted run."
    ref = run(['--out', str(tmp_path / 'ref'), '--epochs', '3', '--ckpt-every', '4'])
    assert ref.returncode == 0, ref.stderr
    killed = run(['--out', str(tmp_path / 'run'), '--epochs', '3', '--ckpt-every', '4', '--kill-at', '9'])
    assert killed.returncode == -9                                      # really killed
    st = load_checkpoint(tmp_path / 'run/last.pt')
    assert (st['epoch'], st['step'], st['resume_batch']) == (1, 8, 2)   # mid-epoch: 2 of epoch 1's 6 batches done
    resumed = run(['--out', str(tmp_path / 'run'), '--epochs', '3', '--ckpt-every', '4'])
    assert resumed.returncode == 0, resumed.stderr
    a, b = weights(tmp_path / 'ref/final.pt'), weights(tmp_path / 'run/final.pt')
    for k in a: assert torch.equal(a[k], b[k]), k                      # bit-identical on CPU
    steps = lambda p: [r for r in read_log(p) if r['kind'] == 'step']
    ref_log, run_log = steps(tmp_path / 'ref/log.jsonl'), steps(tmp_path / 'run/log.jsonl')
    # step 9 was killed before it was logged: the log goes on from the checkpoint at step 8 with the same losses
    assert [r['step'] for r in run_log] == list(range(1, 19))
    assert [r['loss'] for r in run_log] == [r['loss'] for r in ref_log]

def test_ddp_with_gathered_negatives_equals_one_process(tmp_path):
    "2 gloo processes with 8 clips each and gathering on = 1 process with 16 clips: same losses and weights."
    one = run(['--out', str(tmp_path / 'one'), '--epochs', '2', '--bs', '16', '--clips', '64'])
    assert one.returncode == 0, one.stderr
    two = run(['--out', str(tmp_path / 'two'), '--epochs', '2', '--bs', '16', '--clips', '64'], torchrun=2)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = weights(tmp_path / 'one/final.pt'), weights(tmp_path / 'two/final.pt')
    for k in a: torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    la = [r['loss'] for r in read_log(tmp_path / 'one/log.jsonl') if r['kind'] == 'step']
    lb = [r['loss'] for r in read_log(tmp_path / 'two/log.jsonl') if r['kind'] == 'step']
    assert len(la) == len(lb) == 8
    torch.testing.assert_close(torch.tensor(la), torch.tensor(lb), rtol=1e-4, atol=1e-5)

def test_ddp_without_gathering_differs(tmp_path):
    "The references' per-GPU negatives are a different loss: the control for the test above."
    one = run(['--out', str(tmp_path / 'one'), '--epochs', '1', '--bs', '16', '--clips', '64'])
    two = run(['--out', str(tmp_path / 'two'), '--epochs', '1', '--bs', '16', '--clips', '64', '--no-gather'], torchrun=2)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-3000:]
    la = [r['loss'] for r in read_log(tmp_path / 'one/log.jsonl') if r['kind'] == 'step']
    lb = [r['loss'] for r in read_log(tmp_path / 'two/log.jsonl') if r['kind'] == 'step']
    assert abs(la[0] - lb[0]) > 0.1                                    # log(8) vs log(16) scale of losses

def test_nan_guard_names_the_step():
    class NaNLater(ToyMethod):
        calls = 0
        def forward(self, batch):
            out = super().forward(batch); self.calls += 1
            if self.calls == 5: out['loss'] = out['loss'] + float('nan')
            return out
    dls = make_loaders(ToyAV(64), None, batch_size=16)
    learn = Learner(NaNLater(), dls, cbs=[NaNGuardCB()])
    with pytest.raises(FloatingPointError, match='at epoch 1, step 4'): learn.fit(3)

def test_unsafe_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self): return (print, ('pwned',))
    torch.save({'model': Evil()}, tmp_path / 'evil.pt')
    with pytest.raises(DataError, match='evil.pt: this file holds pickled code'): load_checkpoint(tmp_path / 'evil.pt')
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(DataError, match='junk.pt: not a readable checkpoint'): load_checkpoint(tmp_path / 'junk.pt')
    with pytest.raises(DataError, match='missing.pt: checkpoint not found'): load_checkpoint(tmp_path / 'missing.pt')

def test_validation_never_touches_the_test_split(tmp_path):
    "Training with validation on a scene set whose test splits were deleted works; a test split as validation is refused."
    import shutil
    from avl_nb.cli import main
    from avl_nb.data import SceneDataset
    from avl_nb.scenes import build_scenes
    from avl_nb.train import fit
    root = build_scenes(tmp_path / 'scenes', ['dog', 'owl', 'frog'], size=64, n_train=32, n_val=8, n_test=8, seconds=1.0)
    for split in ('test', 'test_heldout'): shutil.rmtree(root / split)
    main(['train', '--method', 'toy', '--data', str(root), '--out', str(tmp_path / 'run'), '--epochs', '1',
          '--batch-size', '16', '--size', '64', '--quiet'])
    epoch = [r for r in read_log(tmp_path / 'run/log.jsonl') if r['kind'] == 'epoch'][0]
    assert 'valid_ciou50' in epoch                                     # it validated, on 'val'
    root2 = build_scenes(tmp_path / 'scenes2', ['dog', 'owl', 'frog'], size=64, n_train=16, n_val=4, n_test=4, seconds=1.0)
    dls = make_loaders(SceneDataset(root2, 'train'), SceneDataset(root2, 'test'), batch_size=8)
    with pytest.raises(ValueError, match='must not use the test split'): fit(ToyMethod(), dls, 1, progress=False)

def test_torchrun_cli_as_in_the_readme(tmp_path):
    "The README's two-process command trains the toy with the CLI; rank 0 alone writes the run folder."
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29534',
           '-m', 'avl_nb.cli', 'train', '--method', 'toy', '--data', 'toy', '--out', str(tmp_path / 'ddp'),
           '--epochs', '2', '--batch-size', '32', '--lr', '3e-3', '--quiet']
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert r.returncode == 0, r.stderr[-3000:]
    recs = read_log(tmp_path / 'ddp/log.jsonl')
    assert [x['step'] for x in recs if x['kind'] == 'step'] == list(range(1, 17))   # 256 clips / 32, twice, once each
    assert load_checkpoint(tmp_path / 'ddp/last.pt')['config']['method'] == 'toy'
