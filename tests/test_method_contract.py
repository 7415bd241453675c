"""The `Method` contract across modules: wrappers keep their students' whole loss, every run writer leaves a checkpoint that
`avl-nb eval` and the explorer reopen, and the import graph has no circle."""
import ast, json
from pathlib import Path
import pytest, torch
from avl_nb.method import Method, method_config
from avl_nb.methods.avkd import AVKD, avkd_hint_loss
from avl_nb.methods.dmt import DMT, LabelledMaps, StrongAugment
from avl_nb.methods.ezvsl import CPU_ARGS, EZVSL

SMALL = dict(image_encoder='effnet-lite0-s16', image_weights=None, audio_encoder='small', frontend='logmel', dim=16,
             vis_hidden=None, tau=0.1)

def _batch(B=6, n_lab=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    lab = torch.arange(B) < n_lab
    mask = torch.zeros(B, 64, 64); mask[:, 16:48, 8:40] = 1
    return dict(image=torch.randn(B, 3, 64, 64, generator=g), audio=torch.randn(B, 8000, generator=g), labelled=lab,
                target=torch.where(lab[:, None, None], mask, torch.zeros_like(mask)), mask=mask,
                audio_teacher=torch.randn(B, 16, generator=g), visual_teacher=torch.rand(B, 4, 4, generator=g))

def _dmt(audio_weight, image_weight):
    torch.manual_seed(0)
    students = [AVKD(audio_weight=audio_weight, image_weight=image_weight, **SMALL) for _ in range(2)]
    return DMT(*students, warmup_epochs=1, strong=StrongAugment(flip_p=0., photometric=False)).train()

def _hints(dmt, batch):
    "What the hints of both students add, computed from the students directly (the view is the batch: no flip, no colour)."
    total = 0.
    for s in dmt.students:
        v, a = s.embed(batch['image'], batch['audio'])
        total = total + avkd_hint_loss(v, a, batch['audio_teacher'], batch['visual_teacher'], s.audio_weight, s.image_weight)['loss']
    return total

@pytest.mark.parametrize('stage', [0, 1])   # 0: the labelled-only warm-up; 1: the mean-teacher stage
def test_dmt_over_avkd_students_keeps_their_hints(stage):
    b = _batch()
    with_hints, without = _dmt(1000., 1e5), _dmt(0., 0.)
    without.load_state_dict(with_hints.state_dict())
    for m in (with_hints, without):
        for e in range(stage + 1): m.on_epoch_begin(e)
    view = b if stage else {k: (v[b['labelled']] if torch.is_tensor(v) else v) for k, v in b.items()}
    extra = with_hints.lambda_c * _hints(with_hints, view).item()
    assert extra > 1.0                                               # the hints are not negligible here
    got = with_hints(b)['loss'].item() - without(b)['loss'].item()
    assert abs(got - extra) < 1e-3 * extra, (got, extra)

def test_wrappers_answer_the_contract_for_their_scored_network():
    torch.manual_seed(0)
    d = DMT(EZVSL(**SMALL), EZVSL(**SMALL), warmup_epochs=0)
    assert d.map_tau == 0.1 and d.tau == 0.5                         # the map's τ, not the consensus threshold
    d.eval_net = 'ensemble'; assert d.map_tau is None                # min-max scaled maps: no cosines to read back
    assert LabelledMaps(EZVSL(**SMALL)).map_tau == 0.1
    with pytest.raises(TypeError, match='must be an avl_nb.method.Method'): DMT(torch.nn.Linear(1, 1), EZVSL(**SMALL))
    from avl_nb.methods.avin import AVIN
    from avl_nb.methods.lvs import LVS
    assert AVIN.map_tau == 1.0 and LVS.map_tau == 1.0                # both return raw cosines

def test_method_config_rebuilds_nested_methods():
    torch.manual_seed(0)
    d = DMT(EZVSL(**SMALL), EZVSL(**{**SMALL, 'tau': 0.2}), warmup_epochs=2, strong=StrongAugment(photometric=False))
    cfg = json.loads(json.dumps(method_config(d)))                   # what a checkpoint stores
    from avl_nb.method import make_method
    twin = make_method(cfg['method'], cfg['method_args'])
    assert twin.students[1].tau == 0.2 and twin.warmup_epochs == 2 and not twin.strong.photometric
    assert [p.shape for p in twin.parameters()] == [p.shape for p in d.parameters()]

@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from avl_nb.scenes import build_scenes
    return build_scenes(tmp_path_factory.mktemp('scenes') / 'three', ['violin', 'trumpet', 'drum_kit'], size=64, n_train=16,
                        n_val=4, n_test=6, seconds=1.0)

def _writers(root, tmp):
    "Every way this package writes a run: the CLI, the demo, the scene recipe, the semi-supervised recipe, the seed study."
    from avl_nb.cli import command, demo
    from avl_nb.core import set_seed
    from avl_nb.methods.ezvsl import train_on_scenes, seed_study
    from avl_nb.methods.dmt import train_semi_on_scenes
    args = {**CPU_ARGS, 'cache_image': False}
    command(['train', '--method', 'ezvsl', '--data', str(root), '--out', str(tmp / 'cli'), '--epochs', '1', '--batch-size', '8',
             '--size', '64', '--seconds', '1.0', '--quiet', '--method-args', json.dumps(args)])
    yield 'cli', tmp / 'cli'
    demo(str(tmp / 'demo-scenes'), str(tmp / 'demo'), 'violin,trumpet,drum_kit', 64, 2, 16, 4, 4, 0, 1, 8, False)
    yield 'demo', tmp / 'demo' / 'run'
    train_on_scenes(root, tmp / 'recipe', epochs=1, batch_size=8, size=64)
    yield 'scene recipe', tmp / 'recipe'
    set_seed(0)
    dmt = DMT(EZVSL(**CPU_ARGS), EZVSL(**{**CPU_ARGS, 'tau': 0.2}), warmup_epochs=1, strong=StrongAugment(photometric=False))
    train_semi_on_scenes(root, dmt, tmp / 'semi', epochs=2, fraction=0.25, batch_size=8, size=64)
    yield 'semi-supervised recipe', tmp / 'semi'
    seed_study(root, {'ezvsl': lambda: EZVSL(**CPU_ARGS)}, seeds=(0,), splits=('test',), out=tmp / 'study', epochs=1,
               batch_size=8, size=64)
    yield 'seed study', tmp / 'study' / 'ezvsl' / 'seed0'

def test_every_run_writer_leaves_a_checkpoint_that_eval_and_the_explorer_reopen(scenes, tmp_path):
    from avl_nb.cli import command
    from avl_nb.explorer import HeatmapExplorer
    from avl_nb.recipe import recipe_from_checkpoint
    seen = []
    for name, run in _writers(scenes, tmp_path):
        recipe = recipe_from_checkpoint(run / 'last.pt')                # the whole recipe is stored in the checkpoint
        assert Path(recipe.data).is_dir() and recipe.epochs >= 1, name
        out = tmp_path / f'{len(seen)}.json'
        command(['eval', '--ckpt', str(run / 'last.pt'), '--split', 'test', '--json', str(out)])
        assert json.loads(out.read_text())['n'] > 0, name
        ex = HeatmapExplorer({name: run})                             # the data and the split from the run's config
        ex.checkpoint.value = 'last.pt'
        assert (name, 'last.pt') in ex._loaded and len(ex.ds) > 0, name
        seen.append(name)
    assert seen == ['cli', 'demo', 'scene recipe', 'semi-supervised recipe', 'seed study']

def _imports(path):
    mod = 'avl_nb.' + '.'.join(path.relative_to(Path(__file__).parents[1] / 'avl_nb').with_suffix('').parts)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:                                           # relative: resolve against the package
                base = mod.split('.')[:-node.level]
                out.add('.'.join(base + ([node.module] if node.module else [])))
            elif node.module and node.module.startswith('avl_nb'): out.add(node.module)
        elif isinstance(node, ast.Import): out |= {a.name for a in node.names if a.name.startswith('avl_nb')}
    return mod, out

def test_the_library_has_no_import_circle():
    pkg = Path(__file__).parents[1] / 'avl_nb'
    graph = dict(_imports(p) for p in pkg.rglob('*.py') if p.name != '_modidx.py')
    graph = {m: {i for i in deps if i in graph and i != m} for m, deps in graph.items()}
    def reach(m, seen):
        for d in graph[m]:
            if d not in seen: seen.add(d); reach(d, seen)
        return seen
    circles = sorted(m for m in graph if m in reach(m, set()))
    assert not circles, f'modules on an import circle: {circles}'
    assert [m for m, deps in graph.items() if 'avl_nb.cli' in deps] == []  # the command line only parses and prints
