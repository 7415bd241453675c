"""Where a step of the notebooks' CPU recipe goes: EZ-VSL with `CPU_ARGS` on the instruments scene set.

The method notebooks train with `avl_nb.methods.ezvsl.CPU_ARGS` (frozen, cached EfficientNet-Lite0 features, a small
audio CNN on 64 log-mel bands, 96 px, 1 s, batch 128). This script times, in one process, on one batch of the
training split: the loader (items cached, as the recipe runs), the frozen image features computed once per image
(the first epoch) and read from the cache (later ones), the log-mel, the audio CNN forward and backward, the
projection heads and the loss; then a whole recipe run of `--epochs` for the end-to-end time per step.

    .venv/bin/python benchmarks/bench_recipe.py [--threads 1] [--epochs 12]
"""
import argparse, time

import torch

from avl_nb.core import cache_dir
from avl_nb.data import collate_av
from avl_nb.methods.ezvsl import CPU_ARGS, EZVSL, train_on_scenes
from avl_nb.recipe import scene_recipe
from avl_nb.scenes import build_scenes


def best(fn, n=5):
    fn(); ts = []
    for _ in range(n):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return min(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--threads', type=int, default=1, help='torch threads (CI runs the notebooks on 1)')
    ap.add_argument('--epochs', type=int, default=12, help='epochs of the end-to-end run (the notebooks: 12)')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = build_scenes(cache_dir('scenes', 'ezvsl-instruments-96'), 'instruments', size=96, n_train=1200, n_val=100,
                        n_test=300, seconds=2.0)
    recipe = scene_recipe(root, method='ezvsl', method_args=CPU_ARGS, seed=0, epochs=1, validate=False)
    ds = recipe.datasets(['train'])['train']
    batch = collate_av([ds[i] for i in range(recipe.batch_size)])
    torch.manual_seed(0)
    m = EZVSL(**CPU_ARGS).train()
    img, aud = batch['image'], batch['audio']
    feats_fresh = best(lambda: m.image.encoder(img), 3)                  # what the first epoch pays per batch
    m.image(img)                                                        # fill the cache
    t = dict(loader=best(lambda: collate_av([ds[i] for i in range(recipe.batch_size)]), 3),
             features_cached=best(lambda: m.image(img)))
    spec = m.spec(aud)
    t['log-mel'] = best(lambda: m.spec(aud))
    def audio_step():
        m.audio(spec).sum().backward()
    t['audio CNN fwd+bwd'] = best(audio_step)
    def whole():
        m(batch)['loss'].backward()
    t['whole step fwd+bwd'] = best(whole)
    t['heads, loss, rest'] = t['whole step fwd+bwd'] - t['features_cached'] - t['log-mel'] - t['audio CNN fwd+bwd']
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads; batch {recipe.batch_size}, {len(ds)} training scenes')
    print(f'frozen image features, computed (first epoch, per batch): {1e3 * feats_fresh:7.1f} ms '
          f'({feats_fresh * len(ds) / recipe.batch_size:.1f} s per run)')
    step = t['loader'] + t['whole step fwd+bwd']
    for k in ('loader', 'features_cached', 'log-mel', 'audio CNN fwd+bwd', 'heads, loss, rest'):
        print(f'  {k:22s} {1e3 * t[k]:7.1f} ms  {100 * t[k] / step:5.1f}% of a later step ({1e3 * step:.0f} ms)')
    t0 = time.perf_counter()
    learn = train_on_scenes(root, seed=0, epochs=args.epochs, validate=False)
    total = time.perf_counter() - t0
    print(f'train_on_scenes, {args.epochs} epochs, {learn.step} steps: {total:.1f} s ({1e3 * total / learn.step:.0f} ms a step, '
          f'the first epoch\'s features included)')


if __name__ == '__main__':
    main()
