"""Full-scale training throughput: EZ-VSL at the paper's configuration, end to end from prepared files.

What a researcher waits for: samples per second of `Method` training steps fed by the package's own data pipeline
from a prepared folder (`avl-nb prepare` layout: JPEG frames, 16 kHz WAV windows), JPEG decoding, audio reading,
augmentation and DataLoader workers included. The model is EZ-VSL as in the paper (ResNet-18 image encoder at
`--size` px, one-channel ResNet-18 on the log-PSD, dim 512, tau 0.03; random weights: nothing is downloaded) with
the log-PSD computed on the device. Each variant (fp32; bf16 autocast; channels-last; `torch.compile`) is timed
three ways:

* `loader`: the DataLoader alone (what the workers can deliver),
* `compute`: training steps on one batch already on the device (what the model can absorb),
* `end-to-end`: the two together,

so each row says whether the run is bound by data or by compute. `MFU` is the model FLOPs of a step (forward and
backward, counted by `torch.utils.flop_counter` on the fp32 model) per second, over the device's peak for the
variant's math (bf16, or TF32 for fp32 convolutions on a GPU; on a CPU, a measured fp32 matmul rate stands in).

The baseline, timed in the same run, has the reference code bases' structure (https://github.com/stoneMo/EZ-VSL):
the log-PSD computed per item in the workers with `scipy.signal.spectrogram`, fp32, no channels-last, no compile.

    # a GPU (H100/H200): the paper's batch and size, VGG-Sound's frame size
    .venv/bin/python benchmarks/bench_train.py --batch 128 --size 224 --n 4096 --workers 14 --steps 40
    # this CPU, small
    .venv/bin/python benchmarks/bench_train.py --batch 8 --size 112 --n 96 --workers 1 --steps 4 --variants fp32,bf16
    # real prepared data instead of the synthetic folder
    .venv/bin/python benchmarks/bench_train.py --data prepared/spec.json ...
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path

import numpy as np, scipy.signal, soundfile as sf, torch, torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from avl_nb.data import collate_av
from avl_nb.recipe import make_datasets
from avl_nb.methods.ezvsl import EZVSL

PEAK = {  # dense peak FLOP/s by device name fragment: (bf16, tf32); from the vendors' data sheets
    'H200': (989e12, 495e12), 'H100 PCIe': (756e12, 378e12), 'H100': (989e12, 495e12),
    'A100': (312e12, 156e12), 'L40S': (362e12, 183e12), 'A10': (125e12, 62.5e12),
}


def make_prepared(root, n, hw=(360, 640), seconds=3.0, sr=16000, seed=0):
    "A prepared folder of `n` synthetic pairs (smooth JPEG frames of VGG-Sound's usual size, 16 kHz PCM windows)."
    rng = np.random.default_rng(seed)
    (root / 'frames').mkdir(parents=True); (root / 'audio').mkdir(); (root / 'metadata').mkdir()
    ids = [f'clip{i:06d}' for i in range(n)]
    for i in ids:
        small = rng.integers(0, 256, (hw[0] // 16, hw[1] // 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize(hw[::-1], Image.BICUBIC).save(root / 'frames' / f'{i}.jpg', quality=90)
        sf.write(root / 'audio' / f'{i}.wav', (0.3 * rng.standard_normal(int(sr * seconds))).clip(-1, 1), sr, subtype='PCM_16')
    (root / 'metadata' / 'train.txt').write_text(''.join(f'{i}\n' for i in ids))
    (root / 'spec.json').write_text(json.dumps({'train': {'root': '.', 'ids': 'metadata/train.txt'}}))
    return root / 'spec.json'


class PerItemSpectrogram(Dataset):
    "The reference structure: each worker turns its clip into the log-PSD with scipy (float64), one item at a time."
    def __init__(self, ds, sr=16000): self.ds, self.sr = ds, sr
    def __len__(self): return len(self.ds)
    def __getitem__(self, i):
        item = self.ds[i]
        spec = scipy.signal.spectrogram(item['audio'].numpy().astype(np.float64), self.sr, nperseg=512, noverlap=274)[2]
        item['audio'] = torch.from_numpy(np.log(spec + 1e-7) / 12).float()[None]
        return item


def loader(ds, args, device):
    return DataLoader(ds, batch_size=args.batch, shuffle=True, drop_last=True, num_workers=args.workers,
                      collate_fn=collate_av, pin_memory=device.type == 'cuda', persistent_workers=args.workers > 0,
                      prefetch_factor=4 if args.workers else None, generator=torch.Generator().manual_seed(0))


def model_for(variant, device, spectrogram_in_loader=False):
    torch.manual_seed(0)
    m = EZVSL(image_encoder='resnet18', image_weights=None, audio_encoder='resnet18', frontend='logpsd', dim=512, tau=0.03)
    if spectrogram_in_loader: m.spec = nn.Identity()
    m = m.to(device).train()
    if 'cl' in variant: m = m.to(memory_format=torch.channels_last)
    return m


def step_fn(model, variant, device):
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    run = torch.compile(model) if 'compile' in variant else model
    bf16 = 'bf16' in variant
    def step(batch):
        img = batch['image'].to(device, non_blocking=True)
        aud = batch['audio'].to(device, non_blocking=True)
        if 'cl' in variant: img = img.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = run({'image': img, 'audio': aud})['loss']
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        return loss
    return step


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def rate(fn, steps, batch, device, warmup=2):
    "Samples per second of `fn()` called `steps` times after `warmup` calls."
    for _ in range(warmup): fn()
    sync(device); t0 = time.perf_counter()
    for _ in range(steps): fn()
    sync(device)
    return steps * batch / (time.perf_counter() - t0)


def loader_rate(dl, steps, batch):
    it = iter(dl)
    for _ in range(2): next(it)
    t0 = time.perf_counter()
    for _ in range(steps): next(it)
    return steps * batch / (time.perf_counter() - t0)


def end_to_end_rate(dl, step, steps, batch, device):
    it = iter(dl)
    for _ in range(2): step(next(it))
    sync(device); t0 = time.perf_counter()
    for _ in range(steps): step(next(it))
    sync(device)
    return steps * batch / (time.perf_counter() - t0)


def step_flops(model, batch, device):
    "FLOPs of one fp32 training step (forward and backward) of `model` on `batch`."
    from torch.utils.flop_counter import FlopCounterMode
    img, aud = batch['image'].to(device), batch['audio'].to(device)
    with FlopCounterMode(display=False) as fc:
        model({'image': img, 'audio': aud})['loss'].backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops()


def peak_flops(device, variant):
    if device.type == 'cuda':
        name = torch.cuda.get_device_name()
        for k, (bf16, tf32) in PEAK.items():
            if k in name: return (bf16 if 'bf16' in variant else tf32), f'{name} {"bf16" if "bf16" in variant else "TF32"} peak'
        return None, f'{name}: peak unknown'
    a = torch.randn(2048, 2048)
    for _ in range(2): a @ a
    t0 = time.perf_counter()
    for _ in range(5): a @ a
    return 5 * 2 * 2048 ** 3 / (time.perf_counter() - t0), 'measured fp32 matmul rate'


def device_name(device):
    if device.type == 'cuda': return torch.cuda.get_device_name()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): cpu = platform.processor()
    return f'{cpu}, {torch.get_num_threads()} threads'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=None, help='a data spec (.json) of prepared data; default: a synthetic folder')
    ap.add_argument('--n', type=int, default=512, help='pairs in the synthetic folder')
    ap.add_argument('--batch', type=int, default=128, help='batch size (paper: 128)')
    ap.add_argument('--size', type=int, default=224, help='image side (paper: 224)')
    ap.add_argument('--steps', type=int, default=20, help='timed steps per measurement')
    ap.add_argument('--workers', type=int, default=min(8, os.cpu_count() or 1), help='DataLoader workers')
    ap.add_argument('--variants', default='fp32,bf16,bf16+cl,bf16+cl+compile', help='comma-separated: fp32, bf16, +cl, +compile')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--dataset-size', type=int, default=144_000, help='for the epoch-time line (VGG-Sound 144k)')
    ap.add_argument('--epochs', type=int, default=20, help='for the epoch-time line')
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    with tempfile.TemporaryDirectory() as tmp:
        spec = args.data or make_prepared(Path(tmp) / 'prepared', args.n)
        ds = make_datasets(spec, size=args.size, augment=True, seconds=3.0)['train']
        if len(ds) < args.batch * (args.steps + 2): print(f'note: {len(ds)} pairs; the loaders cycle through epochs')
        print(f'{device_name(device)}; torch {torch.__version__}; batch {args.batch}, {args.size} px, 3 s at 16 kHz, '
              f'{args.workers} workers, {args.steps} timed steps, {len(ds)} pairs from {spec if args.data else "a synthetic folder"}')
        rows = []
        ref_ds = PerItemSpectrogram(ds)
        dl_ref, dl = cycling(loader(ref_ds, args, device)), cycling(loader(ds, args, device))
        flops = step_flops(model_for('fp32', device), next(iter(dl.loader)), device)
        for name, variant, dlr, in_loader in [('reference structure (fp32, scipy log-PSD per item in the workers)', 'fp32', dl_ref, True)] + \
                [(f'avl_nb {v} (log-PSD on the device)', v, dl, False) for v in args.variants.split(',')]:
            model = model_for(variant, device, in_loader)
            step = step_fn(model, variant, device)
            one = next(iter(dlr.loader))
            compute = rate(lambda: step(one), args.steps, args.batch, device)
            data = loader_rate(dlr, args.steps, args.batch)
            both = end_to_end_rate(dlr, step, args.steps, args.batch, device)
            peak, what = peak_flops(device, variant)
            mfu = flops * compute / args.batch / peak if peak else float('nan')
            rows.append((name, data, compute, both, 'data' if data < compute else 'compute', mfu, what))
        print(f'\nmodel FLOPs per training step: {flops / 1e9:.1f} GFLOP ({flops / args.batch / 1e9:.2f} per sample)')
        print(f'{"pipeline":62s} {"loader":>9s} {"compute":>9s} {"end-to-end":>11s}  bound    MFU (compute)   vs reference')
        for name, data, compute, both, bound, mfu, what in rows:
            print(f'{name:62s} {data:9.1f} {compute:9.1f} {both:11.1f}  {bound:7s}  {100 * mfu:5.1f}% of {what}   {both / rows[0][3]:.2f}x')
        best = max(rows[1:], key=lambda r: r[3]) if len(rows) > 1 else rows[0]
        hours = args.dataset_size * args.epochs / best[3] / 3600
        print(f'samples/s; at {best[3]:.0f}/s ({best[0]}), {args.dataset_size:,} pairs x {args.epochs} epochs take {hours:.2f} h on this device')


class cycling:
    "A loader that starts a new epoch when one ends (for short synthetic sets)."
    def __init__(self, dl): self.loader, self.it = dl, None
    def __iter__(self): return self
    def __next__(self):
        if self.it is None: self.it = iter(self.loader)
        try: return next(self.it)
        except StopIteration:
            self.it = iter(self.loader); return next(self.it)


if __name__ == '__main__':
    main()
