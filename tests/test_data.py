"Behaviour of `avl_nb.data` across readers, datasets and bad input. Expected values are built independently here."
import json
from pathlib import Path

import numpy as np, pytest, soundfile as sf, torch
from PIL import Image
from torch.utils.data import DataLoader

from avl_nb.core import DataError
from avl_nb.data import (read_flickr_xml, flickr_gt_map, read_vggss_json, vggss_gt_map, vggss_defects, read_id_list,
                         drop_leaks, check_wav, load_wave, load_image, av_transform, AVPair, pairs_from_folder,
                         pairs_open_set, AVDataset, collate_av, SceneDataset)


# ---------------------------------------------------------------- helpers
def _tone(freq, seconds, sr):
    t = np.arange(int(round(sr * seconds))) / sr
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)

def _write(p, text):
    p = Path(p); p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text); return p

def _bbox(x0, y0, x1, y1, label='obj'):
    return f'<bbox><name>{label}</name><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bbox>'

def _flickr_xml(annotators):
    "annotators: a list (one per annotator) of lists of 256-frame boxes."
    return '<annotation>' + ''.join('<object>' + ''.join(_bbox(*b) for b in boxes) + '</object>' for boxes in annotators) + '</annotation>'

def make_standard(root, ids=('a_000001', 'b_000002', 'c_000003'), sr=8000, flickr=None, vggss=None):
    "A tiny standard-layout folder: frames/, audio/, Annotations/, vggss.json, metadata/test.txt."
    root = Path(root); rng = np.random.default_rng(0)
    (root / 'frames').mkdir(parents=True); (root / 'audio').mkdir()
    for k, i in enumerate(ids):
        Image.fromarray(rng.integers(0, 256, (40 + 8 * k, 56, 3), dtype=np.uint8)).save(root / 'frames' / f'{i}.jpg')
        sf.write(root / 'audio' / f'{i}.wav', _tone(300 + 100 * k, 0.5 + 0.5 * k, sr), sr)
        boxes = (flickr or {}).get(i, [[[16 * k, 0, 128 + 16 * k, 200]], [[0, 64, 256, 192]]])
        _write(root / 'Annotations' / f'{i}.xml', _flickr_xml(boxes))
    entries = [{'file': i, 'class': f'cls{k}', 'bbox': (vggss or {}).get(i, [[0.1 * k, 0.25, 0.6, 0.75 + 0.1 * k]])}
               for k, i in enumerate(ids)]
    _write(root / 'vggss.json', json.dumps(entries))
    _write(root / 'metadata' / 'test.txt', '\n'.join(ids) + '\n')
    return root

SCENE_BOXES = [[2, 10, 14, 30], [20, 4, 30, 16]]   # pixels in a 32x32 frame, exclusive max

def make_scenes(root, split='train', n=3, size=32, sr=8000, seconds=0.25):
    "A fake built scene set: classes.json, bank/<class>/*.wav, <split>/{frames,audio,masks,metadata,Annotations}, scenes.json."
    root = Path(root); d = root / split; classes = ['bell', 'drum', 'horn']
    _write(root / 'classes.json', json.dumps({'classes': classes}))
    for c, f in zip(classes, (500, 150, 900)):
        (root / 'bank' / c).mkdir(parents=True, exist_ok=True)
        for r in range(2): sf.write(root / 'bank' / c / f'rec{r}.wav', _tone(f + 20 * r, 1.0, sr), sr)
    for sub in ('frames', 'audio', 'masks', 'metadata'): (d / sub).mkdir(parents=True, exist_ok=True)
    scenes = {}
    for s in range(n):
        sid = f'scene{s:03d}'; frame = np.full((size, size, 3), 30, np.uint8); objs = []
        for k, (x0, y0, x1, y1) in enumerate(SCENE_BOXES):
            frame[y0:y1, x0:x1] = (200, 50 + 100 * k, 50)
            m = np.zeros((size, size), np.uint8); m[y0:y1, x0:x1] = 255
            Image.fromarray(m, 'L').save(d / 'masks' / f'{sid}_{k}.png')
            objs.append({'class': classes[(s + k) % 3], 'box': [x0, y0, x1, y1], 'mask': f'masks/{sid}_{k}.png'})
        Image.fromarray(frame).save(d / 'frames' / f'{sid}.jpg')
        Image.open(d / 'masks' / f'{sid}_0.png').save(d / 'masks' / f'{sid}.png')
        sf.write(d / 'audio' / f'{sid}.wav', _tone(400, seconds, sr), sr)
        scenes[sid] = {'objects': objs, 'source': 0}
    _write(d / 'scenes.json', json.dumps({'sr': sr, 'seconds': seconds, 'size': size, 'scenes': scenes}))
    _write(d / 'metadata' / f'{split}.txt', '\n'.join(scenes))
    return root

def expect_flickr_map(annotators, size=224):
    "Reference consensus map by explicit pixel loops: 256-frame boxes -> floor(224*v/256); count/2 clipped at 1."
    boxes = [[(224 * v) // 256 for v in b] for boxes in annotators for b in boxes]
    out = np.zeros((size, size), np.float32)
    for y in range(size):
        for x in range(size):
            n = sum(1 for x0, y0, x1, y1 in boxes if x0 <= x < x1 and y0 <= y < y1)
            out[y, x] = min(n / 2, 1.0)
    return out

def expect_vggss_map(boxes, size=224):
    "Reference binary map by explicit pixel loops: clip each coordinate to [0,1], times size, truncate."
    ib = [[int(min(max(v, 0.0), 1.0) * size) for v in b] for b in boxes]
    out = np.zeros((size, size), np.float32)
    for y in range(size):
        for x in range(size):
            out[y, x] = float(any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in ib))
    return out

def raises_data_error(fn, *names):
    "Call fn, require a DataError, and require each of `names` (file name and problem words) in the message."
    with pytest.raises(DataError) as ei: fn()
    msg = str(ei.value)
    for n in names: assert n in msg, f'{n!r} not in {msg!r}'
    return msg


# ---------------------------------------------------------------- required bad-input tests
def test_truncated_wav_raises(tmp_path):
    sf.write(tmp_path / 'clip.wav', _tone(440, 2.0, 16000), 16000, subtype='PCM_16')
    raw = (tmp_path / 'clip.wav').read_bytes()
    (tmp_path / 'short.wav').write_bytes(raw[:len(raw) // 2])
    raises_data_error(lambda: load_wave(tmp_path / 'short.wav', 16000, 1.0), 'short.wav', 'truncated', '32000 frames')
    assert len(load_wave(tmp_path / 'clip.wav', 16000, 1.0)) == 16000   # the intact file loads

def test_soundfile_reads_truncated_wav_silently(tmp_path):
    "Why check_wav exists: libsndfile reports and returns fewer frames than the header promises, without an error."
    sf.write(tmp_path / 'clip.wav', _tone(440, 2.0, 16000), 16000, subtype='PCM_16')
    raw = (tmp_path / 'clip.wav').read_bytes()
    (tmp_path / 'short.wav').write_bytes(raw[:len(raw) // 2])
    x, _ = sf.read(tmp_path / 'short.wav')
    assert 0 < len(x) < 32000
    assert check_wav(tmp_path / 'clip.wav')['frames'] == 32000

def test_wav_with_nan_raises(tmp_path):
    x = _tone(440, 0.5, 16000); x[1234] = np.nan; x[2000] = np.inf
    sf.write(tmp_path / 'bad.wav', x, 16000, subtype='FLOAT')
    raises_data_error(lambda: load_wave(tmp_path / 'bad.wav', 16000), 'bad.wav', 'NaN or inf', 'frame 1234')

def test_jpg_that_is_not_an_image(tmp_path):
    _write(tmp_path / 'frame.jpg', 'GET / HTTP/1.1\nthis is text\n')
    raises_data_error(lambda: load_image(tmp_path / 'frame.jpg'), 'frame.jpg', 'not an image')

def test_truncated_jpeg(tmp_path):
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / 'ok.jpg')
    raw = (tmp_path / 'ok.jpg').read_bytes()
    (tmp_path / 'cut.jpg').write_bytes(raw[:len(raw) // 2])
    raises_data_error(lambda: load_image(tmp_path / 'cut.jpg'), 'cut.jpg', 'truncated')
    assert load_image(tmp_path / 'ok.jpg').size == (64, 64)

def test_malformed_xml(tmp_path):
    _write(tmp_path / 'x1.xml', '<annotation><object><bbox><name>a</name><xmin>1</xmin>')
    raises_data_error(lambda: read_flickr_xml(tmp_path / 'x1.xml'), 'x1.xml', 'malformed XML')
    _write(tmp_path / 'x2.xml', '<annotation><object><polygon/></object></annotation>')
    raises_data_error(lambda: read_flickr_xml(tmp_path / 'x2.xml'), 'x2.xml', 'expected a <bbox>', 'polygon')
    _write(tmp_path / 'x3.xml', '<annotation><object><bbox><n/><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax></bbox></object></annotation>')
    raises_data_error(lambda: read_flickr_xml(tmp_path / 'x3.xml'), 'x3.xml', '5 sub-elements', 'found 4')
    _write(tmp_path / 'x4.xml', _flickr_xml([[[1, 2, 'ten', 4]]]))
    raises_data_error(lambda: read_flickr_xml(tmp_path / 'x4.xml'), 'x4.xml', 'not an integer', "'ten'")

def test_json_entry_missing_bbox(tmp_path):
    _write(tmp_path / 'vggss.json', json.dumps([{'file': 'ok_000001', 'class': 'c', 'bbox': [[0, 0, 1, 1]]},
                                                {'file': 'nobox_000002', 'class': 'c'}]))
    raises_data_error(lambda: read_vggss_json(tmp_path / 'vggss.json'), 'vggss.json', 'entry 1', 'nobox_000002', 'missing "bbox"')
    _write(tmp_path / 'v2.json', json.dumps([{'file': 'three_000001', 'class': 'c', 'bbox': [[0, 0, 1]]}]))
    raises_data_error(lambda: read_vggss_json(tmp_path / 'v2.json'), 'v2.json', 'three_000001', 'not 4 numbers')
    _write(tmp_path / 'v3.json', '[{"file": "x"},')
    raises_data_error(lambda: read_vggss_json(tmp_path / 'v3.json'), 'v3.json', 'invalid JSON')

def test_listed_id_with_missing_audio(tmp_path):
    root = make_standard(tmp_path / 'std')
    (root / 'audio' / 'b_000002.wav').unlink()
    raises_data_error(lambda: pairs_from_folder(root, 'metadata/test.txt', annotations='flickr'), 'b_000002.wav', 'audio', 'not found')
    assert [p.id for p in pairs_from_folder(root, ['a_000001', 'c_000003'])] == ['a_000001', 'c_000003']

def test_listed_id_with_missing_annotation(tmp_path):
    root = make_standard(tmp_path / 'std')
    (root / 'Annotations' / 'c_000003.xml').unlink()
    raises_data_error(lambda: pairs_from_folder(root, annotations='flickr'), 'c_000003.xml', 'not found')
    _write(root / 'vggss.json', json.dumps([{'file': 'a_000001', 'class': 'c', 'bbox': [[0, 0, 1, 1]]}]))
    raises_data_error(lambda: pairs_from_folder(root, ['a_000001', 'b_000002'], 'vggss'), 'vggss.json', "'b_000002'")


# ---------------------------------------------------------------- GT maps against the reference construction
FLICKR_ANNOTATORS = [[[0, 0, 128, 256], [200, 10, 250, 60]],   # annotator 1: two boxes
                     [[64, 32, 192, 224]],                       # annotator 2
                     [[70, 40, 190, 230], [3, 5, 7, 9]]]         # annotator 3

def test_flickr_gt_map_matches_reference(tmp_path):
    p = _write(tmp_path / 'Annotations' / 'v.xml', _flickr_xml(FLICKR_ANNOTATORS))
    boxes = read_flickr_xml(p)
    assert boxes[0] == [0, 0, 112, 224] and len(boxes) == 5
    got, want = flickr_gt_map(boxes), expect_flickr_map(FLICKR_ANNOTATORS)
    assert got.dtype == np.float32 and got.shape == (224, 224)
    np.testing.assert_array_equal(got, want)
    assert set(np.unique(got)) == {0.0, 0.5, 1.0}

VGGSS_BOXES = [[0.1, 0.2, 0.55, 0.9], [0.5, 0.05, 0.97, 0.4],
               [-2.88e16, 0.3, 0.7, -2.88e16],   # sentinel: empty after clipping
               [0.8, 0.8, 0.6, 0.9],             # inverted: nothing
               [0.33, -0.2, 1.3, 0.15]]          # out of range: clipped

def test_vggss_gt_map_matches_reference(tmp_path):
    p = _write(tmp_path / 'vggss.json', json.dumps([{'file': 'v_000001', 'class': 'c', 'bbox': VGGSS_BOXES}]))
    boxes = read_vggss_json(p)['v_000001']['boxes']
    np.testing.assert_array_equal(vggss_gt_map(boxes), expect_vggss_map(VGGSS_BOXES))
    np.testing.assert_array_equal(vggss_gt_map(boxes[2:4]), np.zeros((224, 224), np.float32))

def test_dataset_gt_maps_match_reference(tmp_path):
    "Through pairs_from_folder + AVDataset, both GT styles equal the loop construction, on the 224 grid, whatever the frame size."
    ids = ('a_000001', 'b_000002')
    root = make_standard(tmp_path / 'std', ids=ids, flickr={'a_000001': FLICKR_ANNOTATORS}, vggss={'b_000002': VGGSS_BOXES})
    fl = AVDataset(pairs_from_folder(root, ids, 'flickr'), sr=8000, seconds=0.5)
    np.testing.assert_array_equal(fl[0]['gt_map'].numpy(), expect_flickr_map(FLICKR_ANNOTATORS))
    vg = AVDataset(pairs_from_folder(root, ids, 'vggss'), sr=8000, seconds=0.5)
    it = vg[1]
    np.testing.assert_array_equal(it['gt_map'].numpy(), expect_vggss_map(VGGSS_BOXES))
    assert it['label'] == 'cls1' and it['has_gt'] and it['boxes'][0] == [22, 44, 123, 201]

def test_vggss_defects_report(tmp_path):
    entries = [{'file': 'M1P1xla8rg0_000000', 'class': 'c', 'bbox': [[0.2, 0.2, -2.88e16, 0.5]]},
               {'file': 'MKC9LvRivTM_000030', 'class': 'c', 'bbox': [[0.5, 0.5, 0.5, 0.9]]},
               {'file': 'fine_000001', 'class': 'c', 'bbox': [[0.1, 0.1, 0.4, 0.4]]}]
    rep = vggss_defects(read_vggss_json(_write(tmp_path / 'v.json', json.dumps(entries))))
    assert rep['empty_gt'] == ['M1P1xla8rg0_000000', 'MKC9LvRivTM_000030']
    assert rep['sentinel'] == ['M1P1xla8rg0_000000']
    assert [d[0] for d in rep['degenerate']] == ['M1P1xla8rg0_000000', 'MKC9LvRivTM_000030']


# ---------------------------------------------------------------- datasets
def test_avdataset_dataloader_shapes(tmp_path):
    root = make_standard(tmp_path / 'std', ids=('a_000001', 'b_000002', 'c_000003', 'd_000004', 'e_000005'))
    ds = AVDataset(pairs_from_folder(root, 'metadata/test.txt', 'vggss'), sr=16000, seconds=3.0)   # files are 8 kHz, 0.5-2.5 s
    batches = list(DataLoader(ds, batch_size=4, collate_fn=collate_av))
    assert [len(b['id']) for b in batches] == [4, 1]
    b = batches[0]
    assert b['image'].shape == (4, 3, 224, 224) and b['image'].dtype == torch.float32
    assert b['audio'].shape == (4, 48000) and b['audio'].dtype == torch.float32
    assert b['gt_map'].shape == (4, 224, 224) and b['gt_map'].dtype == torch.float32
    assert b['has_gt'].dtype == torch.bool and b['has_gt'].all()
    assert b['id'] == ['a_000001', 'b_000002', 'c_000003', 'd_000004']
    assert b['label'] == ['cls0', 'cls1', 'cls2', 'cls3'] and isinstance(b['boxes'], list) and len(b['boxes']) == 4
    assert b['audio'].abs().max() <= 1
    nb = next(iter(DataLoader(AVDataset(pairs_from_folder(root), sr=8000, seconds=1.0), batch_size=4, collate_fn=collate_av)))
    assert not nb['has_gt'].any() and nb['gt_map'].sum() == 0 and nb['label'] == [''] * 4

def test_open_set_negatives(tmp_path):
    root = make_standard(tmp_path / 'std')
    _write(root / 'metadata' / 'plus.csv', 'video,audio,label\na_000001,a_000001,cls0\na_000001,c_000003,non-sounding\n')
    ps = pairs_open_set(root, 'metadata/plus.csv', annotations='vggss')
    assert [p.id for p in ps] == ['a_000001', 'a_000001+c_000003']
    assert ps[1].image.name == 'a_000001.jpg' and ps[1].audio.name == 'c_000003.wav' and ps[1].boxes == []
    b = collate_av([AVDataset(ps, sr=8000, seconds=0.5)[i] for i in range(2)])
    assert b['gt_map'][0].sum() > 0 and b['gt_map'][1].sum() == 0 and b['has_gt'].tolist() == [True, True]
    assert b['label'] == ['cls0', 'non-sounding']

def test_scene_dataset_draws_sources_and_gt_follows(tmp_path):
    root = make_scenes(tmp_path / 'scenes')
    ds = SceneDataset(root, 'train', draw_source=True, transform=av_transform('train'), rng_seed=3)
    sources, audios = set(), set()
    for epoch in range(16):
        ds.set_epoch(epoch); it = ds[1]
        k = it['source']; sources.add(k); audios.add(it['audio'][:8].numpy().tobytes())
        x0, y0, x1, y1 = SCENE_BOXES[k]
        # the drawn object's pixel box, on the 224 grid, computed here by hand: floor(v / 32 * 224) = 7 v
        want = np.zeros((224, 224), np.float32); want[7 * y0:7 * y1, 7 * x0:7 * x1] = 1
        np.testing.assert_array_equal(it['gt_map'].numpy(), want)
        assert it['boxes'] == [[7 * x0, 7 * y0, 7 * x1, 7 * y1]]
        assert it['label'] == ['bell', 'drum', 'horn'][(1 + k) % 3] and it['label_idx'] == (1 + k) % 3
        assert it['mask'].shape == (224, 224) and it['audio'].shape == (2000,)
    assert sources == {0, 1}
    assert len(audios) > 2            # random recordings and random crops

def test_scene_dataset_fixed_source_mask_and_loader(tmp_path):
    root = make_scenes(tmp_path / 'scenes', split='test')
    ds = SceneDataset(root, 'test')
    its = [ds[0], ds[0]]
    assert its[0]['source'] == its[1]['source'] == 0 and torch.equal(its[0]['audio'], its[1]['audio'])
    it = its[0]
    x0, y0, x1, y1 = SCENE_BOXES[0]
    assert it['mask'][7 * y0:7 * y1, 7 * x0:7 * x1].min() == 1 and it['mask'].sum() == 49 * (x1 - x0) * (y1 - y0)
    b = next(iter(DataLoader(ds, batch_size=2, collate_fn=collate_av)))
    assert b['image'].shape == (2, 3, 224, 224) and b['mask'].shape == (2, 224, 224) and b['label_idx'].tolist() == [0, 1]

def test_scene_dataset_draws_depend_on_epoch_not_on_workers(tmp_path):
    "An epoch's draws are the same with 0 or 2 loader processes (so runs resume exactly) and differ between epochs."
    root = make_scenes(tmp_path / 'scenes', n=2)
    def epoch_audio(workers, epoch):
        ds = SceneDataset(root, 'train', draw_source=True, transform=av_transform('train'))
        ds.set_epoch(epoch)
        b = next(iter(DataLoader(ds, batch_size=2, num_workers=workers, collate_fn=collate_av)))
        return b['audio'], b['image']
    for e in range(2):
        (a0, i0), (a2, i2) = epoch_audio(0, e), epoch_audio(2, e)
        assert torch.equal(a0, a2) and torch.equal(i0, i2)
    assert len({tuple(epoch_audio(0, e)[0][:, 50].tolist()) for e in range(3)}) == 3

def test_scene_dataset_bad_input(tmp_path):
    root = make_scenes(tmp_path / 'scenes')
    for rec in (root / 'bank' / 'horn').iterdir(): rec.unlink()
    raises_data_error(lambda: SceneDataset(root, 'train', draw_source=True), 'horn', 'no .wav recordings')
    (root / 'train' / 'audio' / 'scene001.wav').unlink()
    raises_data_error(lambda: SceneDataset(root, 'train'), 'scene001.wav', 'not found')


# ---------------------------------------------------------------- audio, transforms, lists
def test_load_wave_windows_and_resampling(tmp_path):
    ramp = (np.arange(4000) / 4000).astype(np.float32)                # 1 s at 4 kHz, the lowest rate load_wave accepts
    sf.write(tmp_path / 'ramp.wav', ramp, 4000, subtype='FLOAT')
    np.testing.assert_allclose(load_wave(tmp_path / 'ramp.wav', 4000, 0.2, 'center'), ramp[1600:2400])
    np.testing.assert_allclose(load_wave(tmp_path / 'ramp.wav', 4000, 0.2, 'start'), ramp[:800])
    np.testing.assert_allclose(load_wave(tmp_path / 'ramp.wav', 4000, 2.5), np.tile(ramp, 3)[:10000])
    starts = {float(load_wave(tmp_path / 'ramp.wav', 4000, 0.2, 'random', np.random.default_rng(s))[0]) for s in range(6)}
    assert len(starts) > 1
    sf.write(tmp_path / 'st.wav', np.stack([_tone(200, 1.0, 22050), np.full(22050, 3.0, np.float32)], 1), 22050, subtype='FLOAT')
    w = load_wave(tmp_path / 'st.wav', 16000, 0.75)
    assert w.shape == (12000,) and w.dtype == np.float32 and w.max() <= 1 and w.min() >= -1
    assert abs(w.mean() - 0.5) < 0.05           # channel 2 clipped to 1 then averaged with a zero-mean tone

def test_transform_moves_masks_with_image():
    img = np.zeros((30, 50, 3), np.uint8); img[:, :25] = 255
    mask = (img[..., 0] > 0).astype(np.float32)
    x, m = av_transform('test', size=20)(Image.fromarray(img), mask)
    assert m[:, :10].min() == 1 and m[:, 10:].max() == 0 and x.shape == (3, 20, 20)
    torch.manual_seed(5); x0, m0 = av_transform('train', size=20, flip_p=0.0)(Image.fromarray(img), mask)
    torch.manual_seed(5); x1, m1 = av_transform('train', size=20, flip_p=1.0)(Image.fromarray(img), mask)
    assert torch.equal(m1, m0.flip(-1)) and torch.allclose(x1, x0.flip(-1))
    assert m1[:, -1].min() == 1 and m1[:, 0].max() == 0
    x, m = av_transform('test-crop', size=20)(Image.fromarray(img), mask)
    assert m.shape == (20, 20) and m[:, 0].min() == 1 and m[:, -1].max() == 0

def test_id_lists_and_leaks(tmp_path):
    assert read_id_list(_write(tmp_path / 'a.txt', 'x\n\ny\n')) == ['x', 'y']
    assert read_id_list(_write(tmp_path / 'b.csv', 'file,n\nx,1\ny,2\n')) == ['x', 'y']
    assert read_id_list(_write(tmp_path / 'c.csv', 'x,1\ny,2\n')) == ['x', 'y']
    raises_data_error(lambda: read_id_list(tmp_path / 'none.txt'), 'none.txt', 'not found')
    kept, overlap = drop_leaks(['t1', 'x', 't2', 'y', 'x'], ['x', 'y', 'z'])
    assert kept == ['t1', 't2'] and overlap == ['x', 'y']

def test_avpair_requires_style_for_boxes():
    with pytest.raises(ValueError): AVPair('i', 'f.jpg', 'a.wav', boxes=[[0, 0, 1, 1]])
    assert AVPair('i', 'f.jpg', 'a.wav', boxes=[]).image == Path('f.jpg')
