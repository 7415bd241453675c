"""Behaviour of `avl_nb.metrics`: golden values printed by the reference evaluators, hand-made cases, and agreement of
the batched torch code with a per-sample loop written the way the reference evaluators are written."""
import math

import numpy as np, pytest, torch

from avl_nb.maps import upsample, minmax, slavc_scores
from avl_nb.metrics import (GRID, AUC_THRESHOLDS, PROTOCOLS, Protocol, Evaluator, binarize, median_value, ciou, ciou50,
                            auc, mean_ciou, success_curve, nsa, pointing, confidence, precision_recall, open_set_ap,
                            open_set_f1, open_set_stats)


# ---------------------------------------------------------------- golden inputs (values measured with the released evaluators)
def det(shape, off, scale=1.0, dtype=torch.float32):
    "RNG-free inputs, sin(0.7311 * i + off), run in `dtype`; the golden values below were printed by the released evaluators (https://github.com/stoneMo/EZ-VSL utils.py, https://github.com/Tahy1/AVIN utils.py) on them in float32."
    n = int(np.prod(shape))
    return scale * torch.sin(torch.arange(n, dtype=dtype) * 0.7311 + off).reshape(shape)

BOXES = [(20, 30, 120, 140), (0, 0, 224, 224), (100, 100, 140, 150), (50, 10, 200, 90), (10, 120, 80, 220), (60, 60, 170, 170)]

def box_maps(boxes, size=224):
    g = torch.zeros(len(boxes), size, size)
    for i, (x0, y0, x1, y1) in enumerate(boxes): g[i, y0:y1, x0:x1] = 1
    return g

def printed(value, text):
    "`value` lies within half a unit of the last printed digit of `text`."
    digits = len(text.split('.')[1]) if '.' in text else 0
    return abs(value - float(text)) <= 0.5 * 10 ** -digits + 1e-12

@pytest.fixture(scope='module')
def golden():
    return torch.exp(2.5 * det((6, 14, 14), 0.2)), box_maps(BOXES)

def test_golden_avin(golden):
    low, gt = golden
    ev = Evaluator('avin'); c = ev.update(low, gt); s = ev.summary()
    assert printed(s['ciou50'], '0.000000') and printed(s['auc'], '0.100000') and printed(s['nsa'], '0.824875'), s
    for v, t in zip(c.tolist(), ['0.0948', '0.1751', '0.0369', '0.1071', '0.0730', '0.1167']): assert printed(v, t), (v, t)

def test_golden_median_bilinear_false(golden):
    low, gt = golden
    ev = Evaluator('ezvsl-test', align_corners=False); c = ev.update(low, gt); s = ev.summary()
    assert printed(s['ciou50'], '0.166667') and printed(s['auc'], '0.216667') and printed(s['mean_ciou'], '0.206458'), s
    for v, t in zip(c.tolist(), ['0.174', '0.5', '0.0437', '0.2017', '0.1135', '0.2059']): assert printed(v, t), (v, t)

def test_golden_by_functions(golden):
    "The same numbers from the building blocks, without the Evaluator."
    low, gt = golden
    up = upsample(low, 'bilinear', align_corners=False)
    b = binarize(up, 'minmax>=0.5')
    assert printed(torch.nanmean(nsa(b, gt)).item(), '0.824875')
    assert 0.16 < b.float().mean().item() < 0.18                      # "about 17% of pixels are on"
    c = ciou(binarize(up, '>=median'), gt)
    assert printed(ciou50(c), '0.166667') and printed(auc(c), '0.216667') and printed(mean_ciou(c), '0.206458')

def test_golden_generator_dtype_matters(golden):
    "In float64 the generator moves a few pixels across AVIN's 0.5 threshold: NSA changes in its 5th digit."
    low64 = torch.exp(2.5 * det((6, 14, 14), 0.2, dtype=torch.float64)).float()
    s = Evaluator('avin'); s.update(low64, golden[1])
    assert not printed(s.summary()['nsa'], '0.824875')


# ---------------------------------------------------------------- hand-made cases
def test_perfect_map():
    gt = torch.zeros(1, 224, 224); gt[0, :, :112] = 1
    assert Evaluator('ezvsl-test').update(gt.clone(), gt).item() == 1.0
    assert ciou(gt.bool(), gt).item() == 1.0

def test_consensus_half_pixels():
    g = torch.zeros(1, 4, 4); g[0, 0] = 1; g[0, 1] = 0.5
    b = torch.zeros(1, 4, 4, dtype=torch.bool); b[0, 0, :2] = True; b[0, 1, :2] = True; b[0, 3, :3] = True
    assert ciou(b, g).item() == pytest.approx(3 / 9, abs=1e-15)    # (2 + 2*.5) / (4 + 4*.5 + 3)
    assert ciou(g > 0, g).item() == 1.0

def test_empty_gt_median_rule():
    ev = Evaluator('ezvsl-test')
    c = ev.update(torch.randn(2, 7, 7), torch.zeros(2, 224, 224))
    assert c.tolist() == [0.0, 0.0]

def test_empty_gt_and_empty_prediction_is_nan():
    assert math.isnan(ciou(torch.zeros(1, 4, 4, dtype=torch.bool), torch.zeros(1, 4, 4)).item())

def test_constant_map():
    gt = torch.zeros(1, 224, 224); gt[0, 50:150, 20:120] = 1
    # median rule: every pixel >= the (constant) median -> the whole image, as EZ-VSL's unnormalised constant map
    assert Evaluator('ezvsl-test').update(torch.full((1, 7, 7), 3.0), gt).item() == 100 * 100 / 224 ** 2
    assert binarize(torch.full((1, 224, 224), -2.0), '>median').sum() == 0          # strict rule: nothing is > itself
    # fixed threshold on the min-max map: minmax(constant) = 0 -> nothing, as AVIN's NaN map
    assert Evaluator('avin').update(torch.full((1, 7, 7), 3.0), gt).item() == 0.0

@pytest.mark.parametrize('shape', [(2, 300, 300), (2, 224, 7), (2, 7, 224), (2, 225, 100)])
def test_wrong_map_size(shape):
    with pytest.raises(ValueError, match='feature resolution'):
        Evaluator('ezvsl-test').update(torch.rand(shape), torch.zeros(2, 224, 224))

def test_wrong_gt_size_and_batch():
    with pytest.raises(ValueError, match=r'gt_maps must be \(2, 224, 224\)'):
        Evaluator('ezvsl-test').update(torch.rand(2, 7, 7), torch.zeros(2, 112, 112))
    with pytest.raises(ValueError, match=r'gt_maps must be \(3, 224, 224\)'):
        Evaluator('ezvsl-test').update(torch.rand(3, 7, 7), torch.zeros(2, 224, 224))
    with pytest.raises(ValueError, match='must be \\(B, H, W\\)'):
        Evaluator('ezvsl-test').update(torch.rand(2, 1, 7, 7), torch.zeros(2, 224, 224))

def test_nan_raises():
    m = torch.rand(4, 7, 7); m[3, 2, 2] = float('nan')
    with pytest.raises(ValueError, match=r'NaN or inf in sample\(s\) \[3\]'):
        Evaluator('ezvsl-test').update(m, torch.zeros(4, 224, 224))
    g = torch.zeros(4, 224, 224); g[1, 0, 0] = float('inf')
    with pytest.raises(ValueError, match=r'gt_maps hold NaN or inf in sample\(s\) \[1\]'):
        Evaluator('ezvsl-test').update(torch.rand(4, 7, 7), g)
    with pytest.raises(ValueError, match='NaN or inf'): binarize(m, '>=median')

def test_median_index_and_rules():
    g = torch.Generator().manual_seed(0)
    r = torch.stack([torch.randperm(224 * 224, generator=g).float().view(224, 224) for _ in range(5)]) / 50175
    assert torch.equal(median_value(r), r.flatten(1).sort(1).values[:, 25088])
    assert (binarize(r, '>=median').sum((1, 2)) == 224 * 224 - 25088).all()
    assert (binarize(r, '>median').sum((1, 2)) == 224 * 224 - 25089).all()
    assert torch.equal(binarize(r, 'minmax>=0.25'), minmax(r) >= 0.25)
    assert torch.equal(binarize(r, '>=0.5'), r >= 0.5)
    with pytest.raises(ValueError, match='unknown threshold rule'): binarize(r, 'median')

def test_auc_thresholds_are_float_products():
    assert AUC_THRESHOLDS[3] == 0.05 * 3 == 0.15000000000000002
    # a cIoU of exactly 0.15 fails the 0.15000000000000002 threshold, as in the references
    assert success_curve([0.15]).tolist()[3] == 0.0
    c = [0., 0.15, 0.5, 1.]
    assert auc(c) == pytest.approx(0.05 * 1.75 / 2 + 0.05 * 0.75 + 0.05 * 1.25 / 2 + 0.35 * 0.5 + 0.05 * 0.75 / 2 + 0.45 * 0.25, abs=1e-14)

def test_nsa_and_pointing():
    g = torch.zeros(2, 4, 4); g[0, :2] = 1; g[1] = 1
    b = torch.zeros(2, 4, 4, dtype=torch.bool); b[:, 2, :3] = True
    v = nsa(b, g)
    assert v[0].item() == 1 - 3 / 8 and math.isnan(v[1].item())
    m = torch.zeros(2, 4, 4); m[0, 3, 3] = 1; m[1, 0, 1] = 1
    assert pointing(m, g).tolist() == [False, True]
    h = torch.zeros(1, 4, 4); h[0, 1, 1] = 0.5                          # a half-consensus pixel counts as a hit
    m = torch.zeros(1, 4, 4); m[0, 1, 1] = 9
    assert pointing(m, h).tolist() == [True]


# ---------------------------------------------------------------- open set, by hand
CI, CONF, NEG = [0.8, 0.0, 0.2, 0.6], [0.9, 0.8, 0.7, 0.6], [False, True, False, False]

def test_open_set_hand_example():
    p, r = precision_recall(CI, CONF, NEG, [0.8, 0.7, 0.6])
    assert p.tolist() == pytest.approx([1 / 2, 1 / 3, 1 / 2], abs=1e-15)
    assert r.tolist() == pytest.approx([1 / 3, 1 / 2, 1.], abs=1e-15)
    assert open_set_ap(CI, CONF, NEG) == pytest.approx(1 / 3, abs=1e-15)
    thr, f1 = open_set_f1(CI, CONF, NEG)
    assert thr.tolist() == [0.6, 0.7, 0.8, 0.9] and f1.tolist() == pytest.approx([2 / 3, 0.4, 0.4, 0.5], abs=1e-15)
    st = open_set_stats(CI, CONF, NEG, area=[100., 0., 5000., 30000.])
    assert st['all']['precision'] == 0.5 and st['visible']['precision'] == pytest.approx(2 / 3, abs=1e-15)
    assert [st[k]['n'] for k in ('small', 'medium', 'large', 'huge')] == [1, 1, 0, 1]
    assert math.isnan(st['large']['ap'])

def test_open_set_degenerate():
    assert open_set_ap([0.9], [0.5], [False]) == 0.0                 # one sample: no threshold pair
    p, r = precision_recall([0.9, 0.9], [0.1, 0.2], [False, False], [0.5])
    assert p.item() == 1.0 and r.item() == 0.0                        # nothing detected: P defined as 1
    p, r = precision_recall([0.0], [0.1], [True], [0.5])
    assert p.item() == 1.0 and r.item() == 1.0                        # no positives, nothing detected

def _loop_pr(cious, conf, neg, thr, iou_thr=0.5):
    "The precision/recall counting of SLAVC's open-set evaluator (https://github.com/stoneMo/SLAVC, utils.py), one sample at a time."
    tp = fp = fn = 0
    for c, s, n in zip(cious, conf, neg):
        if n:
            fp += s >= thr
        elif s >= thr:
            if c >= iou_thr: tp += 1
            else: fp += 1
        else: fn += 1
    return (1. if tp + fp == 0 else tp / (tp + fp)), (1. if tp + fn == 0 else tp / (tp + fn))

def _loop_ap(cious, conf, neg):
    ps, rs = [], []
    for t in np.sort(np.array(conf))[:-1][::-max(1, len(conf) // 200)]:
        p, r = _loop_pr(cious, conf, neg, t); ps.append(p); rs.append(r)
    pm = [max(ps[i:]) for i in range(len(ps))]
    return sum([pm[i] * (rs[i + 1] - rs[i]) for i in range(len(pm) - 1)])

def _loop_f1(cious, conf, neg):
    out = []
    for t in sorted(conf)[::max(1, len(conf) // 10)]:
        p, r = _loop_pr(cious, conf, neg, t); out.append(2 * r * p / (r + p) if r + p > 0 else 0.)
    return max(out)

@pytest.mark.parametrize('n', [7, 199, 450, 1000])
def test_open_set_matches_loop(n):
    rng = np.random.default_rng(n)
    cious = rng.uniform(0, 1, n).round(2)                             # rounding makes exact ties at 0.5
    conf = rng.uniform(0.3, 0.9, n).round(3)                          # and ties between confidences
    neg = rng.uniform(size=n) < 0.3
    cious[neg] = 0.0
    assert open_set_ap(cious, conf, neg) == _loop_ap(cious.tolist(), conf.tolist(), neg.tolist())
    assert open_set_f1(cious, conf, neg)[1].max().item() == _loop_f1(cious.tolist(), conf.tolist(), neg.tolist())
    for t in [-1000., 0.5, 0.7, 2.0]:
        p, r = precision_recall(cious, conf, neg, [t])
        assert (p.item(), r.item()) == _loop_pr(cious.tolist(), conf.tolist(), neg.tolist(), t)


# ---------------------------------------------------------------- the Evaluator against a per-sample loop
def _reference_style(maps, gts, mode, ac, rule, after_upsampling=lambda x: x):
    "One sample at a time in numpy, as the reference evaluators do (normalise, np.sort, threshold, cal_CIOU)."
    out = []
    for m, g in zip(maps, gts):
        up = after_upsampling(upsample(m[None], mode, ac))[0].numpy()
        lo, hi = up.min(), up.max()
        p = (up - lo) / (hi - lo) if hi != lo else up
        if rule == '>=median': t = np.sort(p.flatten())[int(224 * 224 * 0.5)]; b = p >= t
        elif rule == '>median': t = np.sort(p.flatten())[int(224 * 224 * 0.5)]; b = p > t
        else: b = p >= 0.5
        infer = np.zeros((224, 224)); infer[b] = 1
        g = g.numpy()
        out.append(np.sum(infer * g) / (np.sum(g) + np.sum(infer * (g == 0))))
    return np.array(out)

def _random_set(n, seed):
    g = torch.Generator().manual_seed(seed)
    maps = torch.randn(n, 7, 7, generator=g)
    gts = torch.zeros(n, 224, 224)
    for i in range(n):
        x0, y0 = torch.randint(0, 120, (2,), generator=g).tolist(); w, h = torch.randint(30, 104, (2,), generator=g).tolist()
        gts[i, y0:y0 + h, x0:x0 + w] = 1
        if i % 2: gts[i, y0:y0 + h // 2, x0:x0 + w] = 0.5               # every other sample a consensus map
    return maps, gts

@pytest.mark.parametrize('name', ['ezvsl-test', 'ezvsl-train', 'slavc-test', 'lvs', 'avin'])
def test_evaluator_matches_loop(name):
    maps, gts = _random_set(40, 1)
    p = PROTOCOLS[name]
    ev = Evaluator(name, chunk=16); got = ev.update(maps, gts)
    g = (gts > 0).float() if p.gt_style == 'union' else gts
    after = (lambda x: slavc_scores(x, p.tau)) if p.scores == 'absolute' else (lambda x: x)
    want = _reference_style(maps, g, p.upsample, p.align_corners, p.rule, after)
    np.testing.assert_array_equal(got.numpy(), want)
    s = ev.summary()
    assert s['ciou50'] == np.mean(want >= 0.5) and s['mean_ciou'] == pytest.approx(np.mean(want), abs=1e-15)
    y = [np.sum(want >= 0.05 * i) / len(want) for i in range(21)]
    assert s['auc'] == pytest.approx(np.trapezoid(y, [0.05 * i for i in range(21)]), abs=1e-15)

def test_evaluator_open_set_matches_loop():
    maps, gts = _random_set(60, 2)
    maps = maps * 0.3 / 0.03                  # cosines in about ±0.9, as cos/τ
    neg = torch.arange(60) % 5 == 0
    gts[neg] = 0
    ev = Evaluator('slavc-test'); ev.update(maps, gts, negative=neg)
    r = ev.results()
    scores = slavc_scores(upsample(maps, 'bicubic', True), 0.03)
    np.testing.assert_allclose(r['conf'].numpy(), [np.sort(s.flatten().numpy())[-(224 * 224) // 4:].mean() for s in scores], rtol=1e-6)
    s = ev.summary()
    assert s['ap'] == _loop_ap(r['ciou'].tolist(), r['conf'].tolist(), neg.tolist())
    assert s['max_f1'] == _loop_f1(r['ciou'].tolist(), r['conf'].tolist(), neg.tolist())
    assert s['precision'] == s['ciou50'] == np.mean(r['ciou'][~neg].numpy() >= 0.5)
    assert s['n_negative'] == 12

def test_evaluator_open_set_hand_example():
    "The eight-sample example of the notebook: AP 17/30, max-F1 10/11, precision 5/6."
    tau = 0.03
    def ramp(side, a):
        r = torch.linspace(a, -a, 7)
        return {'top': r[:, None], 'bottom': r.flip(0)[:, None], 'left': r[None, :], 'right': r.flip(0)[None, :]}[side].expand(7, 7)
    def half(side):
        gt = torch.zeros(224, 224)
        if side in ('top', 'bottom'): gt[:112] = 1
        else: gt[:, :112] = 1
        return gt if side in ('top', 'left') else 1 - gt
    sides = ['top', 'bottom', 'left', 'right', 'top', 'left']
    points = sides[:5] + ['right']
    sims = torch.stack([ramp(p, a) for p, a in zip(points, [0.9, 0.8, 0.7, 0.6, 0.5, 0.75])] + [torch.full((7, 7), 0.02)] * 2) / tau
    sims[6:] += 0.005 * torch.randn(2, 7, 7, generator=torch.Generator().manual_seed(3)) / tau
    gts = torch.stack([half(s) for s in sides] + [torch.zeros(224, 224)] * 2)
    ev = Evaluator('slavc-test'); ev.update(sims, gts, negative=[False] * 6 + [True] * 2)
    s = ev.summary()
    assert s['ap'] == pytest.approx(17 / 30, abs=1e-12) and s['max_f1'] == pytest.approx(10 / 11, abs=1e-12)
    assert s['precision'] == pytest.approx(5 / 6, abs=1e-15)

def test_batching_invariance():
    maps, gts = _random_set(33, 4)
    a = Evaluator('fnac-test'); a.update(maps, gts)
    b = Evaluator('fnac-test', chunk=4)
    for lo, hi in [(0, 1), (1, 20), (20, 33)]: b.update(maps[lo:hi], gts[lo:hi])
    assert torch.equal(a.results()['ciou'], b.results()['ciou']) and a.summary() == b.summary()

def test_224_maps_skip_upsampling():
    maps, gts = _random_set(6, 5)
    up = upsample(maps, 'bilinear', True)
    a = Evaluator('ezvsl-test').update(maps, gts)
    b = Evaluator('ezvsl-test').update(up, gts)
    assert torch.equal(a, b)

def test_ogl_fusion_in_evaluator():
    maps, gts = _random_set(6, 6)
    obj = torch.rand(6, 7, 7)
    from avl_nb.maps import fuse_ogl
    want = ciou(binarize(fuse_ogl(upsample(maps, 'bilinear', True), upsample(obj, 'bilinear', True), 0.4), '>=median'), gts)
    assert torch.equal(Evaluator('ezvsl-test').update(maps, gts, obj=obj), want)
    with pytest.raises(ValueError, match='no object-prior fusion'): Evaluator('avin').update(maps, gts, obj=obj)

def test_protocols_and_overrides():
    assert {'ezvsl-test', 'ezvsl-train', 'fnac-test', 'slavc-test', 'lvs', 'avin'} <= set(PROTOCOLS)
    p = PROTOCOLS
    assert (p['ezvsl-test'].upsample, p['ezvsl-test'].align_corners, p['ezvsl-test'].rule) == ('bilinear', True, '>=median')
    assert (p['ezvsl-train'].upsample, p['ezvsl-train'].align_corners) == ('bicubic', False)
    assert (p['slavc-test'].upsample, p['slavc-test'].align_corners, p['slavc-test'].scores, p['slavc-test'].open_set) == ('bicubic', True, 'absolute', True)
    assert (p['lvs'].upsample, p['lvs'].rule) == ('cv2-linear', '>median')
    assert (p['avin'].upsample, p['avin'].align_corners, p['avin'].rule, p['avin'].gt_style) == ('bilinear', False, 'minmax>=0.5', 'union')
    ev = Evaluator('ezvsl-test', upsample='bicubic', align_corners=False)
    assert ev.protocol.name == 'ezvsl-test+upsample=bicubic,align_corners=False' and ev.protocol.upsample == 'bicubic'
    with pytest.raises(ValueError, match='unknown protocol knobs'): Evaluator('ezvsl-test', thr=0.5)
    with pytest.raises(ValueError, match='unknown protocol'): Evaluator('ezvsl')
    with pytest.raises(ValueError, match='align_corners must be None'): Evaluator('ezvsl-test', upsample='cv2-linear')
    with pytest.raises(ValueError, match='no samples'): Evaluator('avin').summary()
    assert isinstance(Evaluator(Protocol('mine', 'bilinear', False, '>=median')).protocol, Protocol)

def test_union_gt_style():
    "AVIN's union GT: half-consensus pixels become 1."
    g = torch.zeros(1, 224, 224); g[0, :112] = 0.5; g[0, :56] = 1
    m = torch.zeros(1, 224, 224); m[0, :112] = 1
    assert Evaluator('avin').update(m, g).item() == 1.0
    assert Evaluator('ezvsl-test').update(m, g).item() == 1.0         # all half pixels predicted: still 1 in consensus
    m2 = torch.zeros(1, 224, 224); m2[0, :56] = 1
    assert Evaluator('avin').update(m2, g).item() == 0.5
    assert Evaluator('avin', gt_style='consensus').update(m2, g).item() == pytest.approx(56 / (56 + 28), abs=1e-15)
