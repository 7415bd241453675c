"""Time the batched `avl_nb.audio.LogPSD` against a per-clip `scipy.signal.spectrogram` loop, the way the references run it.

The reference code bases compute `log(scipy.signal.spectrogram(x, sr, nperseg=512, noverlap=274) + 1e-7) / 12` for one
clip at a time inside the DataLoader. This script makes `--n` random clips of `--seconds` at `--sr`, computes the
log-PSD both ways, checks they agree within 1e-4, then times both in this one run, alternating the two so that a
change in the machine's load hits both alike, and prints the best and the median of `--repeat` runs of each and the
ratio of the best times. On a machine with a GPU it also times `LogPSD` there (synchronised, data already on it).

    .venv/bin/python benchmarks/bench_logpsd.py [--n 128] [--seconds 3] [--sr 16000] [--repeat 15] [--threads N]
"""
import argparse, os, time

import numpy as np, scipy.signal, torch

from avl_nb.audio import LogPSD


def reference_loop(x, sr):
    "One clip at a time, float64, as the references do."
    return np.stack([np.log(scipy.signal.spectrogram(c, sr, nperseg=512, noverlap=274)[2] + 1e-7) / 12 for c in x])


def timed(fn, sync=lambda: None):
    t0 = time.perf_counter(); fn(); sync()
    return time.perf_counter() - t0


def alternate(fns, repeat):
    "Time each function `repeat` times, in turns, after one warm-up call each; (best, median) per function."
    for f in fns: f()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for f, ts in zip(fns, times): ts.append(timed(f))
    return [(min(ts), float(np.median(ts))) for ts in times]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=128, help='clips in the batch')
    ap.add_argument('--seconds', type=float, default=3.0, help='clip length, s (EZ-VSL family: 3)')
    ap.add_argument('--sr', type=int, default=16000, help='sample rate, Hz')
    ap.add_argument('--repeat', type=int, default=15, help='timed repetitions of each')
    ap.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s choice)')
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)

    x64 = np.random.default_rng(0).uniform(-1, 1, (args.n, int(args.sr * args.seconds)))
    x = torch.from_numpy(x64).float()
    lp = LogPSD(args.sr)
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?') if os.path.exists('/proc/cpuinfo') else '?'
    print(f'{args.n} clips of {args.seconds:g} s at {args.sr} Hz; {cpu}, {os.cpu_count()} cores; torch {torch.__version__}, '
          f'{torch.get_num_threads()} CPU threads; best and median of {args.repeat}, in turns')

    ref = reference_loop(x64, args.sr)
    with torch.inference_mode():
        out = lp(x)
        err = float(np.abs(out.numpy() - ref).max())
        assert out.shape == ref.shape and err < 1e-4, f'LogPSD and scipy disagree: max abs difference {err:.2e}'
        print(f'output {tuple(out.shape)}, max |LogPSD - scipy| = {err:.1e}')
        (ref_best, ref_med), (cpu_best, cpu_med) = alternate([lambda: reference_loop(x64, args.sr), lambda: lp(x)], args.repeat)
    print(f'scipy, per-clip loop (float64)  : best {ref_best * 1e3:7.1f} ms, median {ref_med * 1e3:7.1f} ms  ({ref_best / args.n * 1e3:.2f} ms per clip)')
    print(f'LogPSD, one batch, CPU (float32): best {cpu_best * 1e3:7.1f} ms, median {cpu_med * 1e3:7.1f} ms  ({cpu_best / args.n * 1e3:.2f} ms per clip)')
    print(f'ratio scipy / LogPSD-CPU        : {ref_best / cpu_best:.2f}x (best times), {ref_med / cpu_med:.2f}x (medians)')

    if torch.cuda.is_available():
        xd = x.cuda()
        with torch.inference_mode():
            outd = lp(xd)
            err = float(np.abs(outd.cpu().numpy() - ref).max())
            assert err < 1e-4, f'LogPSD on GPU and scipy disagree: max abs difference {err:.2e}'
            ts = [timed(lambda: lp(xd), torch.cuda.synchronize) for _ in range(args.repeat)]
        print(f'LogPSD, one batch, {torch.cuda.get_device_name()}: best {min(ts) * 1e3:.2f} ms  (max |diff| {err:.1e})')
        print(f'ratio scipy / LogPSD-GPU (best) : {ref_best / min(ts):.1f}x')


if __name__ == '__main__':
    main()
