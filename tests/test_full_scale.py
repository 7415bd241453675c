"""The full-scale path, end to end on this CPU, as a user with videos runs it: scene videos -> `avl-nb prepare` (the
test split with its Flickr-style boxes) -> `avl-nb train --method ezvsl` in the paper's configuration (ResNet-18 image
encoder at 224 px with weights read from a file in torchvision's released layout, the one-channel ResNet-18 audio
encoder on the log-PSD, dim 512, tau 0.03) for a few steps -> `avl-nb eval` on the annotated test -> the explorer opens
the run -> `avl-nb localize` writes the heatmap video and its key frames. Weight files in a wrong layout are refused
by name, for every format the package reads (torchvision, PANNs, DETR, DINO)."""
import json, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch, torchvision
from PIL import Image
from avl_nb.core import DataError
from avl_nb.scenes import build_scenes
from avl_nb.prepare import render_scene_videos, probe_video

AVL = str(Path(sys.executable).parent / 'avl-nb')

def avl(*args, cwd=None):
    r = subprocess.run([AVL, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    return r.returncode, r.stdout, r.stderr

def test_videos_to_a_paper_configuration_run_and_back(tmp_path):
    root = build_scenes(tmp_path / 'scenes', ['violin', 'trumpet', 'drum_kit'], size=128, n_train=16, n_val=4, n_test=6, seconds=3.0)
    for split in ('train', 'val', 'test'):
        render_scene_videos(root, tmp_path / 'videos' / split, split, kinds=('steady', 'low', 'vfr', 'mkv'),
                            broken=('no_audio',) if split == 'train' else (), repeat=1)
        extra = ['--annotations', tmp_path / 'videos' / split / 'Annotations'] if split == 'test' else []
        code, out, err = avl('prepare', tmp_path / 'videos' / split, '--out', tmp_path / 'prep', '--split', split, '--quiet', *extra)
        assert code == 0, err[-2000:]
        if split == 'train': assert 'skipped no_audio_train_00000: no audio stream' in out
    spec = json.loads((tmp_path / 'prep' / 'spec.json').read_text())
    assert set(spec) == {'train', 'val', 'test'} and spec['test']['annotations'] == 'flickr'

    weights = tmp_path / 'resnet18-f37072fd.pth'                # torchvision's released layout: the whole classifier too
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    margs = json.dumps({'image_weights': str(weights), 'obj_weights': str(weights)})
    code, out, err = avl('train', '--method', 'ezvsl', '--method-args', margs, '--data', tmp_path / 'prep' / 'spec.json',
                         '--out', tmp_path / 'run', '--epochs', '1', '--batch-size', '8', '--size', '224', '--quiet')
    assert code == 0, err[-2000:]

    from avl_nb.checkpoint import method_from_checkpoint
    from avl_nb.audio import LogPSD
    from avl_nb.encoders import ResNet18Image, ResNet18Audio
    m, meta = method_from_checkpoint(tmp_path / 'run' / 'best.pt')
    assert meta['config']['size'] == 224 and meta['config'].get('seconds') is None          # the spec's 3 s window
    assert m.tau == 0.03 and isinstance(m.spec, LogPSD) and isinstance(m.image, ResNet18Image)
    assert isinstance(m.audio, ResNet18Audio) and m.audio.conv1.in_channels == 1
    with torch.no_grad():
        v, a = m.embed(torch.zeros(1, 3, 224, 224), torch.zeros(1, 48000))
    assert v.shape == (1, 512, 7, 7) and a.shape == (1, 512)
    from avl_nb.methods.ezvsl import EZVSL                       # the file's weights are what the image encoder starts from
    fresh = EZVSL(image_weights=str(weights), obj_weights=str(weights))
    assert torch.equal(fresh.image.conv1.weight, torch.load(weights)['conv1.weight'])

    weights.unlink()                                             # the run, on a machine without the weights file: it needs none
    code, out, err = avl('eval', '--ckpt', tmp_path / 'run' / 'best.pt', '--split', 'test', '--json', '-')
    assert code == 0, err[-2000:]
    s = json.loads(out)
    assert all(0 <= s[k] <= 1 for k in ('ciou50', 'auc', 'pointing'))

    from avl_nb.explorer import HeatmapExplorer                  # the explorer opens the run on its own test split
    ex = HeatmapExplorer({'ezvsl': tmp_path / 'run'})
    assert len(ex.ds) == 6 and ex.ds[0]['image'].shape == (3, 224, 224) and ex.ds[0]['gt_map'].max() > 0

    test_video = sorted((tmp_path / 'videos' / 'test').glob('low_*'))[0]
    code, out, err = avl('localize', test_video, '--ckpt', tmp_path / 'run', '--out', tmp_path / 'heat', '--quiet')
    assert code == 0, err[-2000:]
    video, strip = tmp_path / 'heat' / f'{test_video.stem}_heatmap.mp4', tmp_path / 'heat' / f'{test_video.stem}_keyframes.png'
    info, src = probe_video(video), probe_video(test_video)       # it has a sound track (probe_video insists) and the clip's length
    assert info['size'] == src['size'] and abs(info['duration'] - src['duration']) < 0.1
    assert Image.open(strip).size[0] > 600

def test_a_weight_file_in_another_layout_is_refused_by_name(tmp_path):
    r34 = tmp_path / 'resnet34.pth'
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), r34)
    code, out, err = avl('train', '--method', 'ezvsl', '--method-args', json.dumps({'image_weights': str(r34)}), '--data', 'toy',
                         '--out', tmp_path / 'run', '--epochs', '1')
    assert code == 1 and 'resnet34.pth: does not fit ResNet18Image' in err and 'unexpected keys (layer1.2.' in err, err
    assert not (tmp_path / 'run').exists()

def test_panns_detr_and_dino_files_checked_against_their_released_layouts(tmp_path):
    "Each format as released loads; the same file with a part of another model fails naming the file and the part."
    from avl_nb.encoders import PANNsResNet22, PANNsCnn14, DETR, DinoViTKeys, load_panns, load_dino
    r22 = PANNsResNet22()
    sd = {**r22.state_dict(), 'fc_audioset.weight': torch.zeros(527, 2048), 'fc_audioset.bias': torch.zeros(527)}
    torch.save({'model': sd, 'iteration': 0}, tmp_path / 'ResNet22.pth')
    load_panns(PANNsResNet22(), tmp_path / 'ResNet22.pth')
    torch.save({'model': PANNsCnn14().state_dict()}, tmp_path / 'Cnn14.pth')            # the other PANNs model
    with pytest.raises(DataError, match=r'Cnn14\.pth: does not fit PANNsResNet22: .*missing keys'): load_panns(PANNsResNet22(), tmp_path / 'Cnn14.pth')

    detr = DETR(); torch.save({'model': detr.state_dict()}, tmp_path / 'detr-r50.pth')
    DETR(tmp_path / 'detr-r50.pth')
    other = DETR(num_classes=250); torch.save({'model': other.state_dict()}, tmp_path / 'detr-250.pth')
    with pytest.raises(DataError, match=r'detr-250\.pth: .*shape mismatches \(class_embed\.weight \(251, 256\) in the file, \(92, 256\)'):
        DETR(tmp_path / 'detr-250.pth')

    dino = DinoViTKeys()
    torch.save(dino.vit.state_dict(), tmp_path / 'dino_deitsmall16.pth')                            # released: a bare state dict
    DinoViTKeys(tmp_path / 'dino_deitsmall16.pth')
    torch.save({f'backbone.{k}': v for k, v in dino.vit.state_dict().items()}, tmp_path / 'teacher.pth')   # a training run's prefix
    DinoViTKeys(tmp_path / 'teacher.pth')
    big = {k: torch.zeros(*(768 if s == 384 else s for s in v.shape)) for k, v in dino.vit.state_dict().items()}   # ViT-B/16
    torch.save(big, tmp_path / 'dino_vitbase16.pth')
    with pytest.raises(DataError, match=r'dino_vitbase16\.pth: does not fit VisionTransformer: .*shape mismatches'):
        DinoViTKeys(tmp_path / 'dino_vitbase16.pth')

def test_a_run_trained_from_torchvision_weights_reopens_without_them(tmp_path):
    "A checkpoint whose config asks for torchvision's ImageNet weights is rebuilt without reading or downloading them."
    from avl_nb.methods.ezvsl import EZVSL
    torch.manual_seed(0); m = EZVSL(image_weights=None, obj_weights=None)
    torch.save({'model': m.state_dict(), 'config': {'method': 'ezvsl', 'method_args': {}, 'size': 224}}, tmp_path / 'run.pt')
    code = ("import sys, torch; from avl_nb.checkpoint import method_from_checkpoint; "
            "m, _ = method_from_checkpoint(sys.argv[1]); sd = torch.load(sys.argv[1])['model']; "
            "assert all(torch.equal(v, sd[k]) for k, v in m.state_dict().items()); print('ok')")
    r = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'run.pt')], capture_output=True, text=True,
                       env={**__import__('os').environ, 'TORCH_HOME': str(tmp_path / 'empty-torch-home')})   # no cached weights
    assert r.returncode == 0 and r.stdout.strip() == 'ok', r.stderr[-2000:]
    assert not (tmp_path / 'empty-torch-home').exists()          # nothing was fetched
