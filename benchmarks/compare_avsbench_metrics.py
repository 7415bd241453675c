"""Check `avl_nb.metrics.avs_jaccard` and `avs_fscore(per='batch')` against the AVSBench code's own `mask_iou` and
`Eval_Fmeasure` (https://github.com/OpenNLPLab/AVSBench, `avs_scripts/avs_s4/utils/utility.py`), loaded from a
local checkout given by path, on random logits and masks, evaluated batch by batch as its `test.py` does (the mean
of per-batch values); and time both. Nothing of that code is copied here: it is imported from the checkout.

Two things are patched around it, and only around it: its `_eval_pr` is called with its own `cuda_flag=False`
(it defaults to `.cuda()`, which a CPU-only machine cannot run), and `cv2` / `pandas`, imported at the top of
`utility.py` but used only by functions not called here, are stubbed when they are not installed.

    python benchmarks/compare_avsbench_metrics.py --reference-code /path/to/AVSBench [--frames 200]
"""
import argparse, contextlib, functools, importlib.machinery, importlib.util, io, sys, tempfile, time, types
from pathlib import Path
import numpy as np, torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from avl_nb.metrics import avs_jaccard, avs_fscore

def load_reference(root:Path):
    "The AVSBench S4 `utils/utility.py` module, imported from the checkout at `root`."
    path = root / 'avs_scripts' / 'avs_s4' / 'utils' / 'utility.py'
    if not path.is_file(): raise SystemExit(f'{path}: not found (give the root of an AVSBench checkout)')
    stubbed = []
    for name in ('cv2', 'pandas'):
        try: importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name); stub.__spec__ = importlib.machinery.ModuleSpec(name, None)
            sys.modules[name] = stub; stubbed.append(name)
    spec = importlib.util.spec_from_file_location('avsbench_utility', path)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    mod._eval_pr = functools.partial(mod._eval_pr, cuda_flag=False)
    return mod, stubbed

def frames(n:int, side:int, seed:int):
    "Random logits that are right on average and noisy per pixel, blob masks, every eighth mask empty."
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(float(side)), torch.arange(float(side)), indexing='ij')
    c, r = torch.rand(n, 2, generator=g) * side, side * (0.1 + 0.3 * torch.rand(n, 1, 1, generator=g))
    masks = (((yy - c[:, :1, None]) ** 2 + (xx - c[:, 1:, None]) ** 2) < r ** 2).float()
    masks[::8] = 0
    return 3 * (masks - 0.5) + 2.5 * torch.randn(n, side, side, generator=g), masks

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--reference-code', type=Path, required=True, help='root of an AVSBench checkout')
    ap.add_argument('--frames', type=int, default=200, help='frames (224x224) to score')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    ref, stubbed = load_reference(a.reference_code)
    print(f'reference: {a.reference_code}' + (f' (stubbed, unused by these functions: {", ".join(stubbed)})' if stubbed else ''))
    logits, masks = frames(a.frames, 224, a.seed)
    with tempfile.TemporaryDirectory() as d:
        for bs in (1, 5, 10):
            batches = [(logits[s:s + bs], masks[s:s + bs]) for s in range(0, a.frames, bs)]
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):              # it prints a line per batch
                j_ref = float(np.mean([float(ref.mask_iou(l, m)) for l, m in batches]))
                f_ref = float(np.mean([ref.Eval_Fmeasure(l, m, d) for l, m in batches]))
            t_ref = time.perf_counter() - t
            t = time.perf_counter()
            j = float(np.mean([float(avs_jaccard(l, m).mean()) for l, m in batches]))
            f = avs_fscore(logits, masks, per='batch', batch_size=bs)
            t_ours = time.perf_counter() - t
            print(f'batch {bs:2d}: Jaccard {j:.6f} vs {j_ref:.6f} (diff {abs(j - j_ref):.1e}); F per batch {f:.6f} vs {f_ref:.6f} '
                  f'(diff {abs(f - f_ref):.1e}); per sample {avs_fscore(logits, masks):.6f}; time {t_ours:.2f} s vs {t_ref:.2f} s ({t_ref / t_ours:.0f}x)')

if __name__ == '__main__': main()
