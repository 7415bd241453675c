"""Time a CPU-recipe EZ-VSL run on a scene set with the process-wide frame cache of `SceneDataset(cache=True)` against
the same run after emptying that cache (what every run of a seed study paid before the cache was shared).

Both runs train the same seed for `--epochs` epochs in this one process, after one warm-up run that fills the image
encoder's feature cache (shared either way); they alternate `--repeat` times and the script checks that both give the
same validation numbers, then prints each time and the ratio shared/fresh.

    .venv/bin/python benchmarks/bench_scene_cache.py [--epochs 4] [--repeat 2] [--threads 1]
"""
import argparse, time

import torch

import avl_nb.data as D
from avl_nb.core import cache_dir
from avl_nb.methods.ezvsl import train_on_scenes
from avl_nb.scenes import build_scenes

p = argparse.ArgumentParser()
p.add_argument('--epochs', type=int, default=4); p.add_argument('--repeat', type=int, default=2)
p.add_argument('--threads', type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
root = build_scenes(cache_dir('scenes', 'ezvsl-instruments-96'), 'instruments', size=96, n_train=1200, n_val=100,
                    n_test=300, seconds=2.0)   # the set of nbs/10_ezvsl.ipynb
train_on_scenes(root, seed=0, epochs=1)
for _ in range(a.repeat):
    t = time.perf_counter(); shared = train_on_scenes(root, seed=1, epochs=a.epochs).history[-1]; ts = time.perf_counter() - t
    for d in D._KEPT.values(): d.clear()
    t = time.perf_counter(); fresh = train_on_scenes(root, seed=1, epochs=a.epochs).history[-1]; tf = time.perf_counter() - t
    same = {k: v for k, v in shared.items() if k != 'seconds'} == {k: v for k, v in fresh.items() if k != 'seconds'}
    print(f'shared cache {ts:.1f} s, emptied cache {tf:.1f} s, ratio {ts / tf:.3f}, same numbers: {same}')
