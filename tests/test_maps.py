"""Behaviour of `avl_nb.maps`: similarity maps, upsampling presets (OpenCV's INTER_LINEAR included), min-max
normalisation, the object prior and both fusion rules. Expected values are worked out by hand here."""
import numpy as np, pytest, torch, torch.nn.functional as F

from avl_nb.maps import (similarity_map, similarity_all, upsample, minmax, object_prior, fuse_ogl, slavc_scores,
                         fuse_slavc, UPSAMPLE_MODES)


def test_similarity_hand_values():
    v = torch.zeros(1, 3, 1, 2); v[0, :, 0, 0] = torch.tensor([1., 0., 0.]); v[0, :, 0, 1] = torch.tensor([0., 3., 4.])
    a = torch.tensor([[0., 0., 2.]])
    assert torch.allclose(similarity_map(v, a), torch.tensor([[[0.0, 0.8]]]))
    assert torch.allclose(similarity_map(v, a, tau=0.03), torch.tensor([[[0.0, 0.8 / 0.03]]]))

def test_similarity_all_index_order():
    g = torch.Generator().manual_seed(0)
    v, a = torch.randn(3, 8, 5, 5, generator=g), torch.randn(4, 8, generator=g)
    s = similarity_all(v, a, tau=0.5)
    assert s.shape == (3, 4, 5, 5)
    for n in range(3):
        for m in range(4):
            want = (F.normalize(v[n], dim=0) * F.normalize(a[m], dim=0)[:, None, None]).sum(0) / 0.5
            assert torch.allclose(s[n, m], want, atol=1e-6)            # [image n, audio m]
    assert torch.allclose(similarity_map(v, a[:3], tau=0.5), torch.stack([s[i, i] for i in range(3)]), atol=1e-6)

def test_similarity_normalize_flag():
    g = torch.Generator().manual_seed(1)
    v, a = torch.randn(2, 8, 3, 3, generator=g), torch.randn(2, 8, generator=g)
    vn, an = F.normalize(v, dim=1), F.normalize(a, dim=1)
    assert torch.allclose(similarity_map(vn, an, normalize=False), similarity_map(v, a), atol=1e-6)
    assert not torch.allclose(similarity_map(v, a, normalize=False), similarity_map(v, a))
    with pytest.raises(ValueError, match='equal batch sizes'): similarity_map(v, a[:1])
    with pytest.raises(ValueError, match='channel counts differ'): similarity_all(v, a[:, :4])

def test_upsample_hand_values():
    x = torch.tensor([[[0., 4.], [8., 12.]]])
    half = [[0., 1., 3., 4.], [2., 3., 5., 6.], [6., 7., 9., 10.], [8., 9., 11., 12.]]
    assert upsample(x, 'cv2-linear', size=4)[0].tolist() == half
    assert upsample(x, 'bilinear', align_corners=False, size=4)[0].tolist() == half
    assert torch.allclose(upsample(x, 'bilinear', align_corners=True, size=4)[0, 0], torch.tensor([0., 4 / 3, 8 / 3, 4.]))
    # 1-D check of the half-pixel formula for 3 -> 5: src = (dx + .5) * 3/5 - .5 = -.2, .4, 1, 1.6, 2.2
    x = torch.tensor([[[0., 10., 20.]]])
    for mode, ac in [('cv2-linear', None), ('bilinear', False)]:
        out = upsample(x, mode, ac, size=5)                            # a single row: every output row is the same
        assert torch.allclose(out[0], torch.tensor([0., 4., 10., 16., 20.]).expand(5, 5), atol=1e-5)

@pytest.mark.parametrize('h,w', [(7, 7), (14, 14), (5, 9)])
def test_cv2_linear_is_half_pixel_bilinear(h, w):
    m = torch.randn(6, h, w, generator=torch.Generator().manual_seed(h * w))
    a, b = upsample(m, 'cv2-linear'), upsample(m, 'bilinear', align_corners=False)
    assert (a - b).abs().max() < 4e-6 * m.abs().max()
    a64, b64 = upsample(m.double(), 'cv2-linear'), upsample(m.double(), 'bilinear', align_corners=False)
    assert (a64 - b64).abs().max() < 1e-13

def test_cv2_bit_exact_when_installed():
    cv2 = pytest.importorskip('cv2')
    m = torch.randn(8, 14, 14, generator=torch.Generator().manual_seed(0))
    ref = np.stack([cv2.resize(x.numpy(), (224, 224), interpolation=cv2.INTER_LINEAR) for x in m])
    assert np.array_equal(upsample(m, 'cv2-linear').numpy(), ref)

def test_upsample_knobs_are_explicit():
    m = torch.rand(2, 7, 7)
    with pytest.raises(ValueError, match='say align_corners'): upsample(m, 'bicubic')
    with pytest.raises(ValueError, match='leave align_corners=None'): upsample(m, 'cv2-linear', True)
    with pytest.raises(ValueError, match='mode must be one of'): upsample(m, 'area', False)
    assert set(UPSAMPLE_MODES) == {'bilinear', 'bicubic', 'cv2-linear'}
    assert upsample(m, 'bicubic', True).shape == (2, 224, 224)

def test_presets_flip_pixels():
    "The code bases upsample differently (EZ-VSL's test.py: bilinear, align_corners=True; their train.py validations: align_corners=False; https://github.com/stoneMo/EZ-VSL): on random 7x7 maps the switch flips the median-rule label of ~16% of pixels."
    raw = torch.rand(100, 7, 7, generator=torch.Generator().manual_seed(11))
    def cut(u): return u >= u.flatten(1).kthvalue(25089, dim=1).values[:, None, None]
    flips = (cut(upsample(raw, 'bilinear', True)) != cut(upsample(raw, 'bilinear', False))).float().mean((1, 2))
    assert 0.12 < flips.mean() < 0.20 and flips.max() < 0.30

def test_minmax():
    m = torch.tensor([[[1., 3.], [2., 5.]], [[7., 7.], [7., 7.]]])
    assert minmax(m).tolist() == [[[0., .5], [.25, 1.]], [[0., 0.], [0., 0.]]]   # a constant map becomes zeros
    r = minmax(torch.randn(3, 224, 224) * 30)
    assert torch.equal(minmax(r), r)

def test_object_prior_and_fusions():
    f = torch.tensor([[[[1., -2.]], [[-3., 0.]]]])                   # (1, 2, 1, 2)
    assert object_prior(f).tolist() == [[[2.0, 1.0]]]
    av, obj = torch.tensor([[[0., 2., 4.]]]), torch.tensor([[[10., 0., 5.]]])
    assert torch.allclose(fuse_ogl(av, obj), torch.tensor([[[0.8, 0., 1.]]]))   # minmax(.4*[0,.5,1] + .6*[1,0,.5])
    s = slavc_scores(torch.tensor([-1 / 0.03, 0., 1 / 0.03]), 0.03)
    assert torch.allclose(s, torch.tensor([0., .5, 1.]))
    assert torch.allclose(fuse_slavc(torch.tensor([[[0.5, 1.0]]]), torch.tensor([[[2.5, 0.0]]])), torch.tensor([[[0.55, 0.9]]]))
    with pytest.raises(ValueError, match='differ in shape'): fuse_slavc(torch.zeros(1, 2, 2), torch.zeros(1, 2, 3))
