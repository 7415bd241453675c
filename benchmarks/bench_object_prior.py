"""Time scoring a trained model against the controls with and without the object prior remembered per batch.

`score_controls` scores a method's object-prior and AV+OGL rows as well when the method has an object prior (OGL,
Mo and Morgado, ECCV 2022). The prior comes from a frozen ImageNet encoder at 224 px, the same for every model, and
costs far more than the method's own maps on a CPU; `EZVSL.object_prior` therefore remembers it per batch of images
(on a CPU only). This script builds the instrument scene set of the method notebooks, clears that memory, and scores
fresh EZ-VSL models (the CPU recipe's `CPU_ARGS`, untrained: the prior does not depend on training) on the 300 test
frames: the first model computes every prior, the next ones find them. It checks that both give the same numbers to
the bit, and prints the times and their ratio, measured in this one run.

    .venv/bin/python benchmarks/bench_object_prior.py [--threads 1] [--models 3]
"""
import argparse, json, time
import torch
from torch.utils.data import DataLoader

from avl_nb.core import cache_dir, set_seed
from avl_nb.scenes import build_scenes
from avl_nb.data import collate_av
from avl_nb.report import score_controls
import avl_nb.methods.ezvsl as ezvsl

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--threads', type=int, default=1, help='torch threads (the notebook tests run with one)')
    ap.add_argument('--models', type=int, default=3, help='models scored one after the other')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    root = build_scenes(cache_dir('scenes', 'ezvsl-instruments-96'), 'instruments', size=96, n_train=1200, n_val=100,
                        n_test=300, seconds=2.0)
    dl = DataLoader(ezvsl.scene_split(root, 'test'), batch_size=100, collate_fn=collate_av)
    ezvsl._OBJECT_PRIORS.clear()
    times, tables = [], []
    for k in range(a.models):
        set_seed(k); m = ezvsl.EZVSL(**ezvsl.CPU_ARGS)
        t0 = time.perf_counter(); tables.append(score_controls(m, dl, ogl=True)); times.append(time.perf_counter() - t0)
        print(f'model {k}: {times[-1]:.1f} s' + (' (computes the priors)' if k == 0 else ' (finds them)'), flush=True)
    prior = [json.dumps(t['object prior']) for t in tables]
    assert len(set(prior)) == 1, 'the object-prior row differs between models'
    print(f'object-prior row equal to the bit for all {a.models} models; {len(dl.dataset)} frames, {a.threads} thread(s)')
    later = min(times[1:]) if len(times) > 1 else float('nan')
    print(f'first model {times[0]:.1f} s, later models {later:.1f} s (best): {times[0] / later:.1f}x')
