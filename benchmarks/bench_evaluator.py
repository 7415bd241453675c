"""Time `avl_nb.metrics.Evaluator` against a per-sample numpy loop written the way the reference evaluators are.

The set has the size of the VGG-SS test set: 5,158 random 7x7 maps and GT maps of 1-3 random boxes (binary union, as
VGG-SS). Both sides follow the `ezvsl-test` protocol (bilinear, align_corners=True, >= median, consensus GT) and
must give the same per-sample cIoUs and the same summaries; the script checks that, then prints both times and their
ratio, measured in this one run.

    .venv/bin/python benchmarks/bench_evaluator.py [--n 5158] [--batch 256]
"""
import argparse, time

import numpy as np, torch, torch.nn.functional as F

from avl_nb.metrics import Evaluator


def make_set(n, seed=0):
    "GT maps (uint8, union of 1-3 random boxes on the 224 grid) and 7x7 maps: the pooled GT plus noise."
    rng = np.random.default_rng(seed)
    gts = np.zeros((n, 224, 224), np.uint8)
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            x0, y0 = rng.integers(0, 200, 2)
            w, h = rng.integers(16, 160, 2)
            gts[i, y0:y0 + h, x0:x0 + w] = 1
    pooled = gts.reshape(n, 7, 32, 7, 32).mean((2, 4))
    maps = (pooled + 0.5 * rng.standard_normal((n, 7, 7))).astype(np.float32)
    return maps, gts


def reference_loop(maps, gts):
    "One sample at a time: upsample, min-max, np.sort median, cal_CIOU; then AP50, trapezoid AUC and the mean."
    cious = []
    for m, g in zip(maps, gts):
        up = F.interpolate(torch.from_numpy(m)[None, None], size=(224, 224), mode='bilinear', align_corners=True)
        up = up.numpy()[0, 0]
        lo, hi = up.min(), up.max()
        pred = (up - lo) / (hi - lo) if hi != lo else up
        thr = np.sort(pred.flatten())[int(224 * 224 * 0.5)]
        infer = np.zeros((224, 224))
        infer[pred >= thr] = 1
        gt = g.astype(np.float32)
        cious.append(np.sum(infer * gt) / (np.sum(gt) + np.sum(infer * (gt == 0))))
    x = [0.05 * i for i in range(21)]
    y = [np.sum(np.array(cious) >= t) / len(cious) for t in x]
    area = np.sum(np.diff(x) * (np.array(y[1:]) + np.array(y[:-1])) / 2.0)   # what sklearn.metrics.auc computes
    return np.array(cious), dict(ciou50=np.mean(np.array(cious) >= 0.5), auc=area, mean_ciou=np.mean(cious))


def batched(maps, gts, batch, chunk=None):
    ev = Evaluator('ezvsl-test', chunk=chunk)
    for i in range(0, len(maps), batch):
        ev.update(torch.from_numpy(maps[i:i + batch]), torch.from_numpy(gts[i:i + batch]))
    return ev.results()['ciou'].numpy(), ev.summary()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=5158, help='number of samples (VGG-SS test: 5158)')
    ap.add_argument('--batch', type=int, default=256, help='batch size fed to Evaluator.update')
    ap.add_argument('--threads', type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument('--chunk', type=int, default=None, help="Evaluator chunk (default: the Evaluator's choice)")
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    maps, gts = make_set(args.n)
    print(f'{args.n} samples, 7x7 maps -> 224x224, protocol ezvsl-test; torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads, Evaluator chunk {args.chunk or "default"}')
    batched(maps[:64], gts[:64], args.batch, args.chunk)              # warm-up (first-call overheads)
    t0 = time.perf_counter(); c_ev, s_ev = batched(maps, gts, args.batch, args.chunk); t_ev = time.perf_counter() - t0
    t0 = time.perf_counter(); c_ref, s_ref = reference_loop(maps, gts); t_ref = time.perf_counter() - t0
    same = np.array_equal(c_ev, c_ref)
    diffs = {k: abs(s_ev[k] - s_ref[k]) for k in s_ref}
    print(f'per-sample cIoUs identical: {same} (max |diff| {np.abs(c_ev - c_ref).max():.3g})')
    for k in s_ref: print(f'  {k:9s} Evaluator {s_ev[k]:.12f}   loop {s_ref[k]:.12f}   |diff| {diffs[k]:.3g}')
    print(f'Evaluator (batch {args.batch}): {t_ev:7.2f} s   ({1e3 * t_ev / args.n:.3f} ms/sample)')
    print(f'per-sample numpy loop:   {t_ref:7.2f} s   ({1e3 * t_ref / args.n:.3f} ms/sample)')
    print(f'speed-up: {t_ref / t_ev:.1f}x')
    if not same or max(diffs.values()) > 1e-12: raise SystemExit('the two evaluations disagree')


if __name__ == '__main__':
    main()
