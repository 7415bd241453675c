"""What `avl-nb` prints, as a user reads it: help with defaults and choices, one line per training epoch and the files
written, a resumed run that says so, an `eval` table under a header naming checkpoint, split and protocol (`--json -`
for scripts), and a bad data path refused before any model (and its pretrained weights) is built."""
import json
from types import SimpleNamespace
import pytest
from avl_nb.cli import main

@pytest.fixture
def avl(capsys):
    "Run `avl-nb ARGS...` as its entry point does, in this process: returncode, stdout, stderr."
    def run(*args):
        try: main([str(a) for a in args]); code = 0
        except SystemExit as e: code = e.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
    return run

def test_help_names_defaults_and_choices(avl):
    for cmd in ('demo', 'data', 'train', 'prepare', 'localize', 'eval'):
        r = avl(cmd, '--help')
        assert r.returncode == 0 and r.stdout.startswith(f'usage: avl-nb {cmd}'), (cmd, r.stderr)
    train = avl('train', '--help').stdout
    for shown in ('(default: 10)', '(default: 0.0001)', '(default: ezvsl-train)', 'validation protocol: ezvsl-test, ezvsl-train', '{const,cosine}'):
        assert shown in ' '.join(train.split()), shown

def test_train_prints_epochs_and_files_and_eval_prints_a_table(avl, tmp_path):
    run = tmp_path / 'run'
    r = avl('train', '--method', 'toy', '--data', 'toy', '--out', run, '--epochs', '2', '--batch-size', '32', '--lr', '3e-3', '--quiet')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [l.split(':')[0] for l in lines[:2]] == ['epoch 1/2', 'epoch 2/2'] and 'train loss' in lines[0] and 'val ciou50' in lines[0]
    assert lines[-1] == f'wrote {run}/best.pt, {run}/last.pt, {run}/log.jsonl'
    r = avl('train', '--method', 'toy', '--data', 'toy', '--out', run, '--epochs', '3', '--batch-size', '32', '--lr', '3e-3', '--quiet')
    assert r.returncode == 0 and r.stdout.splitlines()[0] == f'resumed from {run}/last.pt: 2 of 3 epochs done', r.stdout
    r = avl('eval', '--ckpt', run, '--split', 'test')                   # a run folder: its best.pt
    head, *rows = r.stdout.splitlines()
    assert head.startswith(f'{run}/best.pt (toy, epoch ') and head.endswith('split test (128 samples), protocol ezvsl-test'), head
    as_json = json.loads(avl('eval', '--ckpt', run, '--split', 'test', '--json', '-').stdout)
    shown = {' '.join(l.split()[:-1]): float(l.split()[-1]) for l in rows}
    assert shown['cIoU@0.5'] == round(as_json['ciou50'], 4) and shown['pointing'] == round(as_json['pointing'], 4)

def test_missing_data_is_refused_before_any_weights_are_fetched(avl, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch-home'))    # where torchvision would put downloaded weights
    r = avl('train', '--method', 'ezvsl', '--data', tmp_path / 'nowhere', '--out', tmp_path / 'run')
    assert r.returncode == 1 and r.stderr.strip() == f'avl-nb: error: {tmp_path}/nowhere: not found', r.stderr
    assert not (tmp_path / 'torch-home').exists() and not (tmp_path / 'run').exists()
