"AVSBench end to end: a scene set written in the S4 and MS3 layouts, trained on with `avl-nb train`, scored with `avl-nb eval --protocol avsbench`; a damaged mask named from a loader worker."
import json
import numpy as np, pytest, torch
from avl_nb.scenes import build_scenes
from avl_nb.avsbench import write_avsbench_scenes, avsbench_split
from avl_nb.methods.ezvsl import CPU_ARGS
from avl_nb.cli import main
from avl_nb.core import DataError

@pytest.fixture(scope='module')
def avs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('avs')
    sc = build_scenes(tmp / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=16, n_val=4, n_test=8, seconds=1.0)
    write_avsbench_scenes(sc, tmp / 'avs', 's4'); write_avsbench_scenes(sc, tmp / 'avs', 'ms3')
    return tmp

def test_train_and_eval_on_the_avsbench_layout(avs, capsys):
    main(['train', '--method', 'ezvsl', '--data', str(avs / 'avs' / 'Single-source'), '--out', str(avs / 'run'), '--epochs', '1',
          '--batch-size', '8', '--size', '64', '--quiet', '--method-args', json.dumps({**CPU_ARGS, 'cache_image': False})])
    capsys.readouterr()
    main(['eval', '--ckpt', str(avs / 'run'), '--protocol', 'avsbench', '--json', '-'])
    s4 = json.loads(capsys.readouterr().out)
    assert s4['n'] == 40 and s4['n_negative'] == 0 and 0 < s4['jaccard'] < 1 and 0 < s4['fscore'] < 1
    main(['eval', '--ckpt', str(avs / 'run'), '--protocol', 'avsbench', '--data', str(avs / 'avs' / 'Multi-sources')])
    out = capsys.readouterr().out
    ms3 = avsbench_split(avs / 'avs', 'ms3', 'test', size=64)
    empty = sum(not ms3[i]['gt_map'].any() for i in range(len(ms3)))
    assert 'split test (40 samples), protocol avsbench' in out and 'Jaccard (AVSBench mIoU)' in out
    assert (f'{empty} of them with an empty mask' in out) == (empty > 0)
    with pytest.raises(DataError, match='holds both AVSBench subsets'):
        main(['eval', '--ckpt', str(avs / 'run'), '--protocol', 'avsbench', '--data', str(avs / 'avs'), '--debug'])

def test_a_damaged_mask_is_named_from_a_worker(avs):
    from torch.utils.data import DataLoader
    from avl_nb.data import collate_av
    ds = avsbench_split(avs / 'avs', 's4', 'val', size=64)
    bad = ds.clips[1].masks[2]; keep = bad.read_bytes()
    try:
        bad.write_bytes(keep[:40])                                      # a truncated PNG
        with pytest.raises(DataError, match=bad.name):
            for _ in DataLoader(ds, batch_size=4, num_workers=1, collate_fn=collate_av): pass
    finally: bad.write_bytes(keep)
