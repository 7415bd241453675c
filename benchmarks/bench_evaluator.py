"""Time `avl_nb.metrics.Evaluator` against EZ-VSL's test loop, step for step, on a VGG-SS-sized test set.

The set has the size of the VGG-SS test set: 5,158 random 7x7 maps and GT maps of 1-3 random boxes (binary union,
as VGG-SS). The reference is what EZ-VSL's `test.py` does for its AV map (https://github.com/stoneMo/EZ-VSL):
upsample a batch with `F.interpolate(bilinear, align_corners=True)`, move it to NumPy, then for each sample
`normalize_img` (min-max), a full `np.sort` for the median, and `Evaluator.cal_CIOU`, which builds a float64 map and
sums its products with the float64 GT map; then AP50, AUC (`sklearn.metrics.auc`) and the mean. The loop is written
out here; `--reference-code DIR` runs the same loop with `utils.Evaluator` and `utils.normalize_img` imported from
a local checkout of that repository instead (it needs scikit-learn), so the reference code itself is timed.

Both sides must give the same per-sample cIoUs, bit for bit, and the same summaries; the script checks that, then
times each `--repeat` times in turns (so that a change in the machine's load hits both alike) and prints the best
time of each and their ratio, all measured in this one run. With a GPU it also times the Evaluator there (maps and
GT already on the device, synchronised), against the same CPU reference.

    .venv/bin/python benchmarks/bench_evaluator.py [--n 5158] [--batch 256] [--threads 2] [--reference-code DIR]
"""
import argparse, importlib.util, os, platform, sys, time
from pathlib import Path

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


class LoopEvaluator:
    "EZ-VSL's `utils.Evaluator.cal_CIOU`, written out (a float64 map, the float64 GT, three sums)."
    def __init__(self): self.ciou = []
    def cal_CIOU(self, infer, gtmap, thres=0.01):
        infer_map = np.zeros((224, 224))
        infer_map[infer >= thres] = 1
        ciou = np.sum(infer_map * gtmap) / (np.sum(gtmap) + np.sum(infer_map * (gtmap == 0)))
        self.ciou.append(ciou)


def normalize_img(value):
    "EZ-VSL's `utils.normalize_img`."
    vmin, vmax = value.min(), value.max()
    if not (vmax - vmin) == 0: value = (value - vmin) / (vmax - vmin)
    return value


def summaries(cious):
    "AP50, the AUC of the success curve at 0, 0.05, ..., 1 (trapezoids, as `sklearn.metrics.auc`), the mean."
    cious = np.array(cious)
    x = [0.05 * i for i in range(21)]
    y = [np.sum(cious >= t) / len(cious) for t in x]
    area = np.sum(np.diff(x) * (np.array(y[1:]) + np.array(y[:-1])) / 2.0)
    return dict(ciou50=np.mean(cious >= 0.5), auc=area, mean_ciou=np.mean(cious))


def reference(maps, gts, batch, evaluator=LoopEvaluator, normalize=normalize_img):
    "EZ-VSL's test loop for the AV map: batch upsampling, then per sample min-max, sort, cal_CIOU."
    ev = evaluator()
    for s in range(0, len(maps), batch):
        heatmap = F.interpolate(torch.from_numpy(maps[s:s + batch])[:, None], size=(224, 224), mode='bilinear',
                                align_corners=True)
        heatmap = heatmap.data.cpu().numpy()
        gt_batch = gts[s:s + batch]
        for i in range(len(heatmap)):
            pred = normalize(heatmap[i, 0])
            gt_map = gt_batch[i]
            thr = np.sort(pred.flatten())[int(pred.shape[0] * pred.shape[1] * 0.5)]
            ev.cal_CIOU(pred, gt_map, thr)
    return np.array(ev.ciou), summaries(ev.ciou)


def reference_code(path):
    "`utils.Evaluator` and `utils.normalize_img` from a local checkout of https://github.com/stoneMo/EZ-VSL."
    spec = importlib.util.spec_from_file_location('ezvsl_utils', Path(path) / 'utils.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod.Evaluator, mod.normalize_img


def ours(maps, gts, batch):
    ev = Evaluator('ezvsl-test')
    for i in range(0, len(maps), batch): ev.update(maps[i:i + batch], gts[i:i + batch])
    return ev.results()['ciou'].numpy(), ev.summary()


def timed(fn, sync=lambda: None):
    t0 = time.perf_counter(); out = fn(); sync()
    return time.perf_counter() - t0, out


def best_of(fns, repeat):
    "Each function timed `repeat` times, in turns, after one warm-up call; the best time of each and its last output."
    outs = [f() for f in fns]
    times = [[] for _ in fns]
    for _ in range(repeat):
        for k, f in enumerate(fns):
            t, outs[k] = timed(f)
            times[k].append(t)
    return [min(t) for t in times], outs


def cpu_name():
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=5158, help='number of samples (VGG-SS test: 5158)')
    ap.add_argument('--batch', type=int, default=256, help='batch size fed to Evaluator.update and to the reference upsampling')
    ap.add_argument('--ref-batch', type=int, default=None, help="the reference's batch (default: --batch; EZ-VSL's test.py uses 1)")
    ap.add_argument('--threads', type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument('--repeat', type=int, default=3, help='timed repetitions of each, in turns')
    ap.add_argument('--reference-code', default=None, help='a local checkout of https://github.com/stoneMo/EZ-VSL: time its utils.py')
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    maps, gts = make_set(args.n)
    gts64 = gts.astype(np.float64)                                       # EZ-VSL's loader gives float64 GT maps
    ref_batch = args.ref_batch or args.batch
    print(f'{args.n} samples, 7x7 maps -> 224x224, protocol ezvsl-test; {cpu_name()}, {os.cpu_count()} cores; '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}; '
          f'batch {args.batch}, reference batch {ref_batch}; best of {args.repeat}')
    impl = dict(evaluator=LoopEvaluator, normalize=normalize_img)
    label = 'EZ-VSL test loop (written out)'
    if args.reference_code:
        impl = dict(zip(('evaluator', 'normalize'), reference_code(args.reference_code)))
        label = f'EZ-VSL test loop ({Path(args.reference_code) / "utils.py"})'
    mt, gt_t = torch.from_numpy(maps), torch.from_numpy(gts)
    (t_ev, t_ref), ((c_ev, s_ev), (c_ref, s_ref)) = best_of(
        [lambda: ours(mt, gt_t, args.batch), lambda: reference(maps, gts64, ref_batch, **impl)], args.repeat)
    same = np.array_equal(c_ev, c_ref)
    print(f'per-sample cIoUs identical: {same} (max |diff| {np.abs(c_ev - c_ref).max():.3g})')
    for k in s_ref: print(f'  {k:9s} Evaluator {s_ev[k]:.12f}   reference {s_ref[k]:.12f}   |diff| {abs(s_ev[k] - s_ref[k]):.3g}')
    print(f'{label}: {t_ref:7.3f} s   ({1e3 * t_ref / args.n:.3f} ms/sample)')
    print(f'avl_nb Evaluator, CPU:        {t_ev:7.3f} s   ({1e3 * t_ev / args.n:.3f} ms/sample)   {t_ref / t_ev:5.1f}x')
    if torch.cuda.is_available():
        md, gd = mt.cuda(), gt_t.cuda()
        sync = torch.cuda.synchronize
        ours(md, gd, args.batch); sync()
        t_gpu = min(timed(lambda: ours(md, gd, args.batch), sync)[0] for _ in range(args.repeat))
        c_gpu = ours(md, gd, args.batch)[0]
        print(f'avl_nb Evaluator, {torch.cuda.get_device_name()}: {t_gpu:7.3f} s   ({1e3 * t_gpu / args.n:.3f} ms/sample)   '
              f'{t_ref / t_gpu:5.1f}x   cIoUs identical to the CPU reference: {np.array_equal(c_gpu, c_ref)}')
    if not same or max(abs(s_ev[k] - s_ref[k]) for k in s_ref) > 1e-12: raise SystemExit('the two evaluations disagree')


if __name__ == '__main__':
    main()
