"""Runs are relocatable. A run trained from inside a project folder with relative paths (`--data scenes --out runs/a`)
reopens from any other folder, and a project copied elsewhere (runs and data together, the original gone) reopens
without being told where its data went: `avl-nb eval` as a user types it, and the explorer as the README calls it.
Data that are really gone give an error that names every place looked at, and `--data` still overrides."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest
from avl_nb.methods.ezvsl import CPU_ARGS

AVL = str(Path(sys.executable).parent / 'avl-nb')

def avl(*args, cwd):
    r = subprocess.run([AVL, *map(str, args)], cwd=cwd, capture_output=True, text=True)
    return r

def scores(r, path):
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(Path(path).read_text())

@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "A project folder with a scene set and a run, both made from inside it with relative paths."
    t = tmp_path_factory.mktemp('reloc')
    proj, elsewhere = t / 'proj', t / 'elsewhere'
    proj.mkdir(); elsewhere.mkdir()
    r = avl('data', 'build', '--root', 'scenes', '--classes', 'violin,trumpet,drum_kit', '--size', '64', '--n-train', '16',
            '--n-val', '4', '--n-test', '6', cwd=proj)
    assert r.returncode == 0, r.stderr[-3000:]
    r = avl('train', '--method', 'ezvsl', '--method-args', json.dumps({**CPU_ARGS, 'cache_image': False}), '--data', 'scenes',
            '--out', 'runs/a', '--epochs', '1', '--batch-size', '8', '--size', '64', '--seconds', '1.0', '--quiet', cwd=proj)
    assert r.returncode == 0, r.stderr[-3000:]
    at_home = scores(avl('eval', '--ckpt', 'runs/a/last.pt', '--split', 'test', '--json', t / 'home.json', cwd=proj), t / 'home.json')
    return t, at_home

def test_eval_and_the_explorer_work_from_another_folder(project, monkeypatch):
    t, at_home = project
    got = scores(avl('eval', '--ckpt', '../proj/runs/a/last.pt', '--split', 'test', '--json', t / 'away.json', cwd=t / 'elsewhere'),
                 t / 'away.json')
    assert got == at_home                                            # the same model on the same data
    from avl_nb.explorer import HeatmapExplorer
    monkeypatch.chdir(t / 'elsewhere')
    ex = HeatmapExplorer({'EZ-VSL': str(t / 'proj/runs/a')})       # the README's call, with an absolute run folder
    assert len(ex.ds) == at_home['n'] and Path(ex.ds.root).resolve() == (t / 'proj/scenes').resolve()

def test_a_copied_project_reopens_and_missing_data_are_named(project, monkeypatch):
    t, at_home = project
    shutil.copytree(t / 'proj', t / 'moved'); shutil.rmtree(t / 'proj')   # another machine: the original path is gone
    got = scores(avl('eval', '--ckpt', 'runs/a/last.pt', '--split', 'test', '--json', t / 'moved.json', cwd=t / 'moved'),
                 t / 'moved.json')
    assert got == at_home
    from avl_nb.explorer import HeatmapExplorer
    monkeypatch.chdir(t / 'elsewhere')
    assert len(HeatmapExplorer({'EZ-VSL': str(t / 'moved/runs/a')}).ds) == at_home['n']
    shutil.move(t / 'moved/scenes', t / 'kept')                      # the data really gone from every place it could be
    r = avl('eval', '--ckpt', t / 'moved/runs/a/last.pt', '--split', 'test', cwd=t / 'elsewhere')
    assert r.returncode != 0 and 'Traceback' not in r.stderr
    for place in ('scenes', t / 'proj/scenes', t / 'moved/runs/a/../../scenes'):
        assert str(place) in r.stderr, (place, r.stderr)
    got = scores(avl('eval', '--ckpt', t / 'moved/runs/a/last.pt', '--split', 'test', '--data', t / 'kept', '--json', t / 'kept.json',
                     cwd=t / 'elsewhere'), t / 'kept.json')
    assert got == at_home                                            # `--data` names where they went
