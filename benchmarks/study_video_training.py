"""Seed study: does training through video files (H.264 + AAC, `prepare_videos`) cost localisation?

The `localize` notebook trains EZ-VSL (the CPU recipe) on scene videos prepared with `prepare_videos`, and on the
same pairs made without any video (`source_pairs`), for two paired seeds, which is what its test run can afford.
The recipe's seed-to-seed spread in pointing (about 0.1 to 0.2) is larger than the difference in question, so this
script runs the same comparison for more paired seeds, outside the notebook: 600 training scenes of the
instruments set rendered as 9 fps videos whose objects sound in turn (six turns of one second), one pair per turn,
four epochs, batch 128, one torch thread per run, `--parallel` runs at a time; both arms scored on the scene set's
own test split (300 scenes, `ezvsl-test`). It prints each seed's numbers and the paired differences (videos minus
pairs) with their mean and standard error. The model trained on videos is also scored on 100 switching and 100
steady test clips (`avl_nb.localize.scene_clip_shares`: does its peak follow the sound from one object to another?).

    .venv/bin/python benchmarks/study_video_training.py [--seeds 0,1,2,3,4,5,6,7] [--parallel 2] [--work DIR]
                                                        [--record nbs/records/video_training_study.json]

`--record` writes every run's numbers, with the torch version and the CPU kernels it ran on, to a JSON file: the
`localize` notebook prints the study from it and checks that its own run of seed 0 (both arms) reproduces the recorded
numbers exactly (the engine is deterministic on one machine), so the record cannot go stale unnoticed.
"""
import argparse, json, os, subprocess, sys
from pathlib import Path

import numpy as np

ARMS = ('prepared', 'sources')


def prepare(work):
    from avl_nb.core import cache_dir
    from avl_nb.scenes import build_scenes
    from avl_nb.prepare import render_scene_videos, prepare_videos, source_pairs
    root = build_scenes(cache_dir('scenes', 'ezvsl-instruments-96'), 'instruments', size=96, n_train=1200, n_val=100,
                        n_test=300, seconds=2.0)
    if not (work / 'sources' / 'spec.json').is_file():
        man = render_scene_videos(root, work / 'videos' / 'train', 'train', kinds=('low',), broken=(), n=600, turns=6)
        prepare_videos(work / 'videos' / 'train', work / 'prepared', window=1.0, fps=1, progress=False)
        source_pairs(man, root, 'train', work / 'sources', window=1.0, fps=1)
    for kind in ('switch', 'steady'):                                  # the localize notebook's test clips
        if not (work / 'clips' / f'{kind}.json').is_file():
            clips = render_scene_videos(root, work / 'clips' / kind, 'test', kinds=(kind,), broken=(), n=100)
            (work / 'clips' / f'{kind}.json').write_text(json.dumps(clips))
    return root


def run_seeds(work, seeds):
    "Train and score both arms for each seed, in this process (one torch thread); one JSON line per run."
    import torch
    torch.set_num_threads(1)
    from torch.utils.data import DataLoader
    from avl_nb.data import collate_av
    from avl_nb.methods.ezvsl import CPU_ARGS
    from avl_nb.recipe import RunRecipe, scene_split
    from avl_nb.report import score_controls
    from avl_nb.localize import scene_clip_shares, follows
    import shutil
    root = prepare(work)
    recipe = dict(method='ezvsl', method_args=CPU_ARGS, size=96, seconds=1.0, augment=False, batch_size=128, lr=1e-3,
                  epochs=4, validate=False)
    test_dl = DataLoader(scene_split(root, 'test'), batch_size=100, collate_fn=collate_av)
    for seed in seeds:
        for arm in ARMS:
            run = work / 'runs' / f'{arm}{seed}'
            shutil.rmtree(run, ignore_errors=True)                     # a fresh run, not a resumed one
            learn = RunRecipe(data=str(work / arm / 'spec.json'), seed=seed, **recipe).run(run, progress=False)
            s = score_controls(learn.method, test_dl, 'ezvsl-test', ogl=False)
            row = dict(seed=seed, arm=arm, **{f'{k}/{m}': s[k][m] for k in ('AV', 'shuffled audio')
                                              for m in ('pointing', 'auc', 'mean_ciou')})
            if arm == 'prepared':                                      # as the notebook: the run folder, 10 maps a second
                row['follow'] = {}
                for kind in ('switch', 'steady'):
                    clips = json.loads((work / 'clips' / f'{kind}.json').read_text())
                    r = np.stack(list(scene_clip_shares(run, clips, root).values()))
                    row['follow'][kind] = dict(shares=r.mean(0).tolist(), follows=follows(r).astype(int).tolist())
            print(json.dumps(row), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', default='0,1,2,3,4,5,6,7')
    ap.add_argument('--parallel', type=int, default=2, help='processes at a time (each runs torch on one thread)')
    ap.add_argument('--work', default='outputs/study_video_training', help='videos, prepared folders')
    ap.add_argument('--record', default=None, help='write the runs to this JSON file (the notebook reads it)')
    ap.add_argument('--child', default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work)
    if args.child is not None: return run_seeds(work, [int(s) for s in args.child.split(',')])
    prepare(work)                                                      # once, before the children read it
    seeds = [int(s) for s in args.seeds.split(',')]
    groups = [seeds[i::args.parallel] for i in range(args.parallel) if seeds[i::args.parallel]]
    kernels = Path(__file__).parents[1] / 'tests' / 'same_kernels.env'     # as tests/run_all.sh runs the notebook
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1',
           **dict(l.split('=', 1) for l in kernels.read_text().splitlines() if l and not l.startswith('#'))}
    procs = [subprocess.Popen([sys.executable, __file__, '--work', str(work), '--child', ','.join(map(str, g))],
                              stdout=subprocess.PIPE, text=True, env=env) for g in groups]
    rows = [json.loads(l) for p in procs for l in p.communicate()[0].splitlines() if l.startswith('{')]
    if any(p.returncode for p in procs): raise SystemExit('a run failed')
    res = {(r['seed'], r['arm']): r for r in rows}
    if args.record:
        import torch, platform
        from avl_nb.core import native_cpu
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(json.dumps(dict(
            command=f'.venv/bin/python benchmarks/study_video_training.py --seeds {args.seeds} --parallel {args.parallel} --record {args.record}',
            # the CPU's own widest vector kernels, for information: the settings above fix torch's, MKL's, oneDNN's and
            # OpenBLAS's, `write_video` fixes x264's, so 23_localize compares a re-run on any x86 machine with this torch
            torch=torch.__version__, cpu_capability=native_cpu(), machine=platform.machine(),
            runs=sorted(rows, key=lambda r: (r['seed'], r['arm']))), indent=1) + '\n')
    print(f'{"seed":>4s}  {"videos":>20s}  {"pairs":>20s}   (pointing / AUC; shuffled-audio pointing)')
    for s in seeds:
        v, p = res[s, 'prepared'], res[s, 'sources']
        print(f'{s:4d}  {v["AV/pointing"]:.3f} / {v["AV/auc"]:.3f} ({v["shuffled audio/pointing"]:.3f})'
              f'  {p["AV/pointing"]:.3f} / {p["AV/auc"]:.3f} ({p["shuffled audio/pointing"]:.3f})')
    for m in ('AV/pointing', 'AV/auc', 'AV/mean_ciou', 'shuffled audio/pointing'):
        a, b = np.array([res[s, 'prepared'][m] for s in seeds]), np.array([res[s, 'sources'][m] for s in seeds])
        d = a - b
        se = d.std(ddof=1) / len(d) ** 0.5 if len(d) > 1 else float('nan')
        print(f'{m:24s} videos {a.mean():.3f} ± {a.std(ddof=1) if len(a) > 1 else 0:.3f}   pairs {b.mean():.3f} ± '
              f'{b.std(ddof=1) if len(b) > 1 else 0:.3f}   paired difference {d.mean():+.3f} ± {se:.3f} (SE, {len(d)} seeds)')
    for s in seeds:
        f = res[s, 'prepared']['follow']
        print(f'seed {s}: switching clips follow {np.mean(f["switch"]["follows"]):.0%}, steady ones {np.mean(f["steady"]["follows"]):.0%}')


if __name__ == '__main__':
    main()
