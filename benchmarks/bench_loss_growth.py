"""How each method's training loss grows with the batch: time and peak memory of forward + backward, batch 16 to 1024.

A batch of 1024 is what the gathered negatives of 8 GPUs x 128 give each GPU's loss. Embeddings are random and
L2-normalised, C = 512, maps of 7x7 (ResNet-18 at 224 px) and 14x14 (LVS's stride-1 variant). Each configuration
runs in a child process of its own so that its peak memory is its own: on a GPU `torch.cuda.max_memory_allocated`,
on the CPU the child's peak resident set minus that of a child that only imported torch. Times are the best of
`--repeat` forward + backward passes after a warm-up.

    .venv/bin/python benchmarks/bench_loss_growth.py [--batches 16,64,128,256,512,1024] [--maps 7,14] [--device cuda]
"""
import argparse, json, resource, subprocess, sys, time

import torch, torch.nn.functional as F

LOSSES = ('ezvsl', 'lvs', 'fnac', 'slavc', 'avin')


def loss_fn(name):
    "The loss of `name` as a function of (visual maps, audio embeddings), summed over its terms."
    if name == 'ezvsl':
        from avl_nb.methods.ezvsl import ezvsl_loss
        return lambda v, a: ezvsl_loss(v, a, 0.03)
    if name == 'lvs':
        from avl_nb.methods.lvs import lvs_loss
        return lambda v, a: lvs_loss(v, a)
    if name == 'fnac':
        from avl_nb.methods.fnac import fnac_losses
        return lambda v, a: sum(fnac_losses(v, a).values())
    if name == 'slavc':                      # two heads per side, online against momentum (the momentum side detached)
        from avl_nb.methods.slavc import slavc_loss
        return lambda v, a: slavc_loss((v, v.flip(0), a, a.flip(0)), (v.detach(), v.detach().flip(0), a.detach(), a.detach().flip(0)))['loss']
    if name == 'avin':
        from avl_nb.methods.avin import avin_losses
        return lambda v, a: sum(avin_losses(v, a))
    raise ValueError(name)


def one(name, b, hw, device, repeat):
    "Time and peak memory of one configuration, in this process."
    dev = torch.device(device)
    if b == 0: return dict(peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    g = torch.Generator().manual_seed(0)
    v = F.normalize(torch.randn(b, 512, hw, hw, generator=g), dim=1).to(dev).requires_grad_()
    a = F.normalize(torch.randn(b, 512, generator=g), dim=1).to(dev).requires_grad_()
    f = loss_fn(name)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    f(v, a).backward(); sync()
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeat):
        v.grad = a.grad = None
        t0 = time.perf_counter(); f(v, a).backward(); sync(); times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if dev.type == 'cuda' else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(seconds=min(times), peak_mb=peak)


def child(name, b, hw, device, repeat):
    out = subprocess.run([sys.executable, __file__, '--one', name, str(b), str(hw), '--device', device, '--repeat', str(repeat)],
                         capture_output=True, text=True)
    if out.returncode: return dict(error=(out.stderr.strip().splitlines() or ['failed'])[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--batches', default='16,64,128,256,512,1024')
    ap.add_argument('--maps', default='7,14', help='map sides')
    ap.add_argument('--losses', default=','.join(LOSSES))
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--one', nargs=3, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        name, b, hw = args.one
        print(json.dumps(one(name, int(b), int(hw), args.device, args.repeat))); return
    dev = torch.device(args.device)
    what = torch.cuda.get_device_name() if dev.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    base = 0.0 if dev.type == 'cuda' else child('ezvsl', 0, 7, args.device, 1)['peak_mb']
    print(f'{what}; torch {torch.__version__}; C = 512; peak memory {"allocated on the GPU" if dev.type == "cuda" else f"resident, above {base:.0f} MB of an idle child"}')
    batches = [int(b) for b in args.batches.split(',')]
    for hw in (int(h) for h in args.maps.split(',')):
        print(f'\n{hw}x{hw} maps' + ''.join(f'{"B=" + str(b):>18s}' for b in batches))
        for name in args.losses.split(','):
            cells = []
            for b in batches:
                r = child(name, b, hw, args.device, args.repeat)
                cells.append('error' if 'error' in r else f'{1e3 * r["seconds"]:8.1f} ms {r["peak_mb"] - base:5.0f} MB')
            print(f'{name:8s}' + ''.join(f'{c:>18s}' for c in cells))


if __name__ == '__main__':
    main()
