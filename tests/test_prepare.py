"""`avl-nb prepare` from the command line, with worker processes: the same pairs as in one process, every broken video
reported with its reason, and a data spec that the readers take."""
import json, subprocess, sys
from pathlib import Path
import numpy as np
from avl_nb.scenes import build_scenes
from avl_nb.prepare import render_scene_videos, prepare_videos, BROKEN

def test_cli_prepares_with_workers_as_one_process_does(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=4, n_val=2, n_test=6, seconds=1.0)
    man = render_scene_videos(root, tmp_path / 'videos', n=6)
    avl = str(Path(sys.executable).parent / 'avl-nb')
    r = subprocess.run([avl, 'prepare', str(tmp_path / 'videos'), '--out', str(tmp_path / 'cli'), '--window', '1.0',
                        '--workers', '2', '--quiet'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    skipped = [l for l in r.stdout.splitlines() if l.startswith('skipped ')]
    assert len(skipped) == len(BROKEN) and all(any(f'{k}_' in l for l in skipped) for k in BROKEN)
    one = prepare_videos(tmp_path / 'videos', tmp_path / 'one', window=1.0, progress=False)
    ids = sorted((tmp_path / 'cli' / 'metadata' / 'train.txt').read_text().split())
    assert ids == sorted(one.written['train']) and len(ids) == len(man) - len(BROKEN)
    for i in ids:                                                   # the same bytes, whichever process wrote them
        for sub, ext in (('frames', 'jpg'), ('audio', 'wav')):
            assert (tmp_path / 'cli' / sub / f'{i}.{ext}').read_bytes() == (tmp_path / 'one' / sub / f'{i}.{ext}').read_bytes()
    from avl_nb.recipe import make_datasets
    ds = make_datasets(tmp_path / 'cli' / 'spec.json', size=64, seconds=1.0)   # what `avl-nb train --data` reads
    assert len(ds['train']) == len(ids) and ds['train'][0]['audio'].shape == (16000,)
    r = subprocess.run([avl, 'prepare', str(tmp_path / 'videos'), '--out', str(tmp_path / 'cli'), '--window', '0'],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith('avl-nb: error: --window must be a number > 0')
