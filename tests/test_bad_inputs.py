"""A corpus of bad inputs, each with the outcome a user should get.

Every case is one broken file, checkpoint, data spec, log or command line, made here. Its expected outcome is one of

- `error`: an exception whose message names the file (or the argument) and says what is wrong, raised before anything
  is trained or written; through the command line, one line `avl-nb: error: ...`, a non-zero exit and no traceback;
- `counted`: accepting is right, and the behaviour is documented and reported with a count (a warning line) or is
  the faithful reading of the file (a 16-bit image scaled, not clipped).

Nothing may be accepted silently. `python tests/test_bad_inputs.py` prints the corpus size and the counts per group
and outcome.
"""
import contextlib, io, json, os, shutil, struct, warnings, zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np, pytest, soundfile as sf, torch
from PIL import Image

from avl_nb.core import DataError, load_tensors
from avl_nb.data import (read_flickr_xml, read_vggss_json, read_id_list, load_wave, load_image, pairs_from_folder,
                         AVDataset, SceneDataset, collate_av)
from avl_nb.train import read_log, load_checkpoint, fit, make_loaders, LogCB
from avl_nb.toy import ToyMethod, ToyAV


# ---------------------------------------------------------------- the corpus
@dataclass
class Case:
    group: str     # what kind of input
    name: str      # what is wrong with it
    outcome: str   # 'error' or 'counted'
    run: callable  # run(tmp: Path, ctx: dict) asserts the outcome

CASES = []

def case(group, name, outcome='error'):
    def register(f): CASES.append(Case(group, name, outcome, f)); return f
    return register


@contextlib.contextmanager
def named(*fragments, exc=(DataError, ValueError)):
    "The block must raise `exc` with every fragment (the file or argument, and the problem) in its message."
    with pytest.raises(exc) as err: yield
    msg = str(err.value)
    for f in fragments: assert str(f) in msg, f'{f!r} not in {msg!r}'
    assert 'weights_only=False' not in msg                   # never torch's advice to load unsafely

def cli(*argv):
    "Run `avl-nb argv...` in this process: (exit code, stdout, stderr)."
    from avl_nb.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: main([str(a) for a in argv]); code = 0
        except SystemExit as e: code = e.code
    return code, out.getvalue(), err.getvalue()

def cli_error(*argv, says=()):
    "The command fails with exit code 1 or 2 and one line `avl-nb: error: ...` holding every fragment, no traceback."
    code, out, err = cli(*argv)
    assert code in (1, 2), (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('avl-nb: error: '), err
    assert 'Traceback' not in err + out
    for f in says: assert str(f) in lines[0], f'{f!r} not in {lines[0]!r}'

def warned(f, *fragments):
    "Run f() and return its result; it must warn once with every fragment in the warning (the count is the report)."
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); r = f()
    msgs = [str(x.message) for x in w if not issubclass(x.category, (DeprecationWarning, ResourceWarning))]
    assert any(all(str(fr) in m for fr in fragments) for m in msgs), msgs
    return r


# ---------------------------------------------------------------- small real files
def tone(seconds, sr=16000, freq=440.):
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(round(sr * seconds))) / sr)).astype(np.float32)

def jpeg(path, h=48, w=64, seed=0, **kw):
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path, quality=90, **kw)
    return Path(path)

def png_claiming(path, w, h):
    "A real 16×16 PNG whose header says w×h (with a correct CRC)."
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(path); b = bytearray(Path(path).read_bytes())
    b[16:24] = struct.pack('>II', w, h); b[29:33] = struct.pack('>I', zlib.crc32(bytes(b[12:29])))
    Path(path).write_bytes(b); return Path(path)

def garble_scan(src, dst, start, n, mode='xor'):
    "A copy of a JPEG with `n` bytes of its entropy-coded scan changed, `start` bytes after the SOS marker."
    b = bytearray(Path(src).read_bytes()); s = b.find(b'\xff\xda') + start
    for k in range(s, s + n):
        b[k] = (b[k] ^ 0xA5) if mode == 'xor' else 0
    Path(dst).write_bytes(b); return Path(dst)

def wav_with_rate(path, rate):
    "A 16 kHz PCM wav whose header is rewritten to claim `rate` Hz."
    sf.write(path, tone(0.5), 16000, subtype='PCM_16'); b = bytearray(Path(path).read_bytes())
    b[24:28] = struct.pack('<I', rate); Path(path).write_bytes(b); return Path(path)

def bbox_xml(x0, y0, x1, y1):
    return f'<bbox><name>x</name><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bbox>'

def flickr(path, body):
    Path(path).write_text(f'<annotation><object>{body}</object></annotation>'); return Path(path)

def vggss(path, entries):
    Path(path).write_text(json.dumps(entries)); return Path(path)

def standard_folder(root, ids=('c0', 'c1', 'c2')):
    root = Path(root); (root / 'frames').mkdir(parents=True); (root / 'audio').mkdir()
    for k, i in enumerate(ids):
        jpeg(root / 'frames' / f'{i}.jpg', seed=k); sf.write(root / 'audio' / f'{i}.wav', tone(1.0), 16000)
    vggss(root / 'vggss.json', [{'file': i, 'class': 'c', 'bbox': [[0.1, 0.1, 0.6, 0.7]]} for i in ids])
    return root


# ---------------------------------------------------------------- images (load_image)
@case('image', 'missing file')
def _(t, c): 
    with named(t / 'none.jpg', 'image file not found'): load_image(t / 'none.jpg')

@case('image', 'zero bytes')
def _(t, c):
    (t / 'zero.jpg').write_bytes(b'')
    with named('zero.jpg', 'not an image'): load_image(t / 'zero.jpg')

@case('image', 'text named .jpg')
def _(t, c):
    (t / 'text.jpg').write_text('a caption, not a picture')
    with named('text.jpg', 'not an image'): load_image(t / 'text.jpg')

@case('image', 'a folder named .jpg')
def _(t, c):
    (t / 'dir.jpg').mkdir()
    with named('dir.jpg', 'image file not found'): load_image(t / 'dir.jpg')

for frac in (0.3, 0.6, 0.9):
    @case('image', f'JPEG cut at {int(frac * 100)}%')
    def _(t, c, frac=frac):
        b = jpeg(t / 'ok.jpg').read_bytes(); (t / 'cut.jpg').write_bytes(b[:int(len(b) * frac)])
        with named('cut.jpg', 'corrupt'): load_image(t / 'cut.jpg')

for start, n, mode in ((40, 30, 'xor'), (100, 60, 'xor'), (20, 200, 'zero'), (300, 8, 'xor')):
    @case('image', f'JPEG scan data garbled ({mode}, {n} bytes at +{start})')
    def _(t, c, start=start, n=n, mode=mode):
        g = garble_scan(jpeg(t / 'ok.jpg', 96, 128), t / 'garbled.jpg', start, n, mode)
        with named('garbled.jpg', 'corrupt JPEG data'): load_image(g)     # PIL decodes most of these without a word

@case('image', 'JPEG with its end marker cut off')
def _(t, c):
    b = jpeg(t / 'ok.jpg').read_bytes(); (t / 'noeoi.jpg').write_bytes(b[:-2])
    with named('noeoi.jpg', 'corrupt JPEG data'): load_image(t / 'noeoi.jpg')

@case('image', 'PNG cut short')
def _(t, c):
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(t / 'ok.png'); b = (t / 'ok.png').read_bytes()
    (t / 'cut.png').write_bytes(b[:len(b) // 2])
    with named('cut.png', 'corrupt image'): load_image(t / 'cut.png')

@case('image', '1x1 image')
def _(t, c):
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(t / 'dot.png')
    with named('dot.png', 'image is 1x1, under avl_nb.data.MIN_IMAGE_SIDE'): load_image(t / 'dot.png')

@case('image', '300x8 strip')
def _(t, c):
    jpeg(t / 'strip.jpg', 8, 300)
    with named('strip.jpg', 'image is 300x8'): load_image(t / 'strip.jpg')

@case('image', '15x15 thumbnail')
def _(t, c):
    jpeg(t / 'thumb.jpg', 15, 15)
    with named('thumb.jpg', 'image is 15x15'): load_image(t / 'thumb.jpg')

@case('image', 'header claims 9000x9000')
def _(t, c):
    with named('big.png', 'the header claims 9000x9000 pixels'): load_image(png_claiming(t / 'big.png', 9000, 9000))

@case('image', 'header claims 100000x100000')
def _(t, c):
    with named('bomb.png', 'refused before decoding'): load_image(png_claiming(t / 'bomb.png', 100000, 100000))

@case('image', 'float TIFF')
def _(t, c):
    Image.fromarray(np.random.default_rng(0).random((32, 32)).astype(np.float32), 'F').save(t / 'float.tif')
    with named('float.tif', 'floating-point pixels'): load_image(t / 'float.tif')

@case('image', '16-bit grey PNG is scaled, not saturated', 'counted')
def _(t, c):
    g8 = np.random.default_rng(0).integers(1, 255, (24, 32), dtype=np.uint8)
    Image.fromarray(g8.astype(np.uint16) * 257).save(t / 'g16.png')
    assert np.asarray(Image.open(t / 'g16.png').convert('RGB')).min() == 255        # PIL alone: all white
    assert np.array_equal(np.asarray(load_image(t / 'g16.png'))[..., 1], g8)


# ---------------------------------------------------------------- audio (load_wave)
@case('audio', 'missing file')
def _(t, c):
    with named(t / 'none.wav', 'audio file not found'): load_wave(t / 'none.wav', 16000)

@case('audio', 'zero bytes')
def _(t, c):
    (t / 'zero.wav').write_bytes(b'')
    with named('zero.wav', 'not readable as audio'): load_wave(t / 'zero.wav', 16000)

@case('audio', 'text named .wav')
def _(t, c):
    (t / 'text.wav').write_text('RIFF? no, just words')
    with named('text.wav', 'not readable as audio'): load_wave(t / 'text.wav', 16000)

@case('audio', 'text named .ogg')
def _(t, c):
    (t / 'text.ogg').write_text('not vorbis')
    with named('text.ogg', 'not readable as audio'): load_wave(t / 'text.ogg', 16000)

for frac in (0.2, 0.5, 0.9):
    @case('audio', f'wav cut at {int(frac * 100)}%')
    def _(t, c, frac=frac):
        sf.write(t / 'ok.wav', tone(1.0), 16000, subtype='PCM_16'); b = (t / 'ok.wav').read_bytes()
        (t / 'cut.wav').write_bytes(b[:int(len(b) * frac)])
        with named('cut.wav', 'truncated'): load_wave(t / 'cut.wav', 16000)

@case('audio', 'wav cut inside its header')
def _(t, c):
    sf.write(t / 'ok.wav', tone(1.0), 16000); (t / 'head.wav').write_bytes((t / 'ok.wav').read_bytes()[:30])
    with named('head.wav', 'truncated'): load_wave(t / 'head.wav', 16000)

for rate in (0, 100, 1000):
    @case('audio', f'header sample rate {rate} Hz')
    def _(t, c, rate=rate):
        with named('rate.wav', f'the sample rate is {rate} Hz'): load_wave(wav_with_rate(t / 'rate.wav', rate), 16000)

@case('audio', 'flac at 100 Hz')
def _(t, c):
    sf.write(t / 'slow.flac', tone(2, 100, 4), 100)
    with named('slow.flac', 'the sample rate is 100 Hz'): load_wave(t / 'slow.flac', 16000)

for ms in (1, 10, 40):
    @case('audio', f'{ms} ms clip for a 3 s window')
    def _(t, c, ms=ms):
        sf.write(t / 'blip.wav', tone(ms / 1000), 16000)
        with named('blip.wav', 'shorter than avl_nb.data.MIN_AUDIO_SECONDS'): load_wave(t / 'blip.wav', 16000, 3.0)

@case('audio', 'no samples')
def _(t, c):
    sf.write(t / 'empty.wav', np.zeros(0, np.float32), 16000)
    with named('empty.wav', 'no audio samples'): load_wave(t / 'empty.wav', 16000)

for bad in ('nan', 'inf'):
    @case('audio', f'{bad} samples')
    def _(t, c, bad=bad):
        x = tone(0.5); x[1234] = float(bad); sf.write(t / 'bad.wav', x, 16000, subtype='FLOAT')
        with named('bad.wav', 'NaN or inf samples (first at frame 1234)'): load_wave(t / 'bad.wav', 16000)


# ---------------------------------------------------------------- Flickr-SoundNet XML
XML_CASES = {'malformed XML': '<bbox>', 'expected a <bbox>': '<box/>', 'needs 5 sub-elements': '<bbox><l/><xmin>1</xmin></bbox>',
             'is not an integer': bbox_xml(0, 0, 12.5, 9), 'is negative': bbox_xml(-4, 0, 20, 20),
             'outside the 256×256 frame': bbox_xml(10, 10, 300, 40), 'is 257, outside': bbox_xml(0, 0, 100, 257),
             'inverted or empty (it needs xmin < xmax': bbox_xml(90, 10, 30, 40), 'inverted or empty': bbox_xml(10, 90, 30, 40),
             'the box [20, 20, 20, 60] is inverted or empty': bbox_xml(20, 20, 20, 60)}
for problem, body in XML_CASES.items():
    @case('flickr xml', problem)
    def _(t, c, problem=problem, body=body):
        p = flickr(t / 'ann.xml', body) if body != '<bbox>' else (t / 'ann.xml')
        if body == '<bbox>': p.write_text('<annotation><object><bbox>')
        with named('ann.xml', problem): read_flickr_xml(p)

@case('flickr xml', 'no <bbox> at all')
def _(t, c):
    (t / 'ann.xml').write_text('<annotation><filename>x.jpg</filename></annotation>')
    with named('ann.xml', 'no <bbox> found'): read_flickr_xml(t / 'ann.xml')

@case('flickr xml', 'missing file')
def _(t, c):
    with named('gone.xml', 'annotation file not found'): read_flickr_xml(t / 'gone.xml')


# ---------------------------------------------------------------- VGG-SS json
VG_CASES = {'invalid JSON': '[{"file": "a"', 'expected a list': {'file': 'a'},
            'expected an object': ['a_1'], 'missing "file"': [{'bbox': [[0, 0, 1, 1]]}],
            '"file" must be a non-empty string': [{'file': '', 'bbox': [[0, 0, 1, 1]]}],
            'missing "bbox"': [{'file': 'a_1'}], '"bbox" must be a list': [{'file': 'a_1', 'bbox': 'big'}],
            'box 0 is not 4 numbers': [{'file': 'a_1', 'bbox': [[0, 0, 1]]}],
            'box 1 is not 4 numbers': [{'file': 'a_1', 'bbox': [[0, 0, 1, 1], [0, '0', 1, 1]]}],
            'box 0 is not 4 numbers: [True': [{'file': 'a_1', 'bbox': [[True, 0, 1, 1]]}],
            'non-finite coordinate': '[{"file": "a_1", "bbox": [[0, 0, NaN, 1]]}]',
            '"bbox" is empty': [{'file': 'a_1', 'class': 'dog', 'bbox': []}],
            'duplicate id, already in entry 0': [{'file': 'a_1', 'bbox': [[0, 0, 1, 1]]}, {'file': 'a_1', 'bbox': [[0, 0, 1, 1]]}]}
for problem, body in VG_CASES.items():
    @case('vggss json', problem)
    def _(t, c, problem=problem, body=body):
        p = t / 'vggss.json'; p.write_text(body if isinstance(body, str) else json.dumps(body))
        with named('vggss.json', problem): read_vggss_json(p)

@case('vggss json', 'sentinel and inverted boxes are kept, as the references score them, and counted', 'counted')
def _(t, c):
    root = standard_folder(t / 'std')
    vggss(root / 'vggss.json', [{'file': 'c0', 'class': 'a', 'bbox': [[-2.88e16, 0.3, -2.88e16, 0.7]]},
                                {'file': 'c1', 'class': 'a', 'bbox': [[0.6, 0.2, 0.4, 0.8]]},
                                {'file': 'c2', 'class': 'a', 'bbox': [[0.1, 0.1, 0.9, 0.9]]}])
    ps = warned(lambda: pairs_from_folder(root, None, 'vggss'), 'vggss.json: of 3 listed entries, 1 sentinel', '2 degenerate', '2 empty gt')
    assert [p.id for p in ps] == ['c0', 'c1', 'c2']


# ---------------------------------------------------------------- id lists and pairs
@case('id list', 'empty .txt')
def _(t, c):
    (t / 'ids.txt').write_text('\n  \n')
    with named('ids.txt', 'the id list is empty'): read_id_list(t / 'ids.txt')

@case('id list', '.csv with a header only')
def _(t, c):
    (t / 'ids.csv').write_text('video\n')
    with named('ids.csv', 'the id list is empty'): read_id_list(t / 'ids.csv')

@case('id list', 'binary .txt')
def _(t, c):
    (t / 'ids.txt').write_bytes(b'\x89PNG\r\n\x1a\n\xff\xfe\x00')
    with named('ids.txt', 'not a text file'): read_id_list(t / 'ids.txt')

@case('id list', 'unknown format')
def _(t, c):
    (t / 'ids.lst').write_text('a\n')
    with named('ids.lst', 'unknown id-list format'): read_id_list(t / 'ids.lst')

@case('id list', 'missing list')
def _(t, c):
    with named('gone.txt', 'id list not found'): read_id_list(t / 'gone.txt')

@case('id list', 'an empty list of ids given')
def _(t, c):
    with named('std', 'the list of ids given is empty'): pairs_from_folder(standard_folder(t / 'std'), [])

@case('id list', 'an id listed twice')
def _(t, c):
    (t / 'ids.txt').write_text('c0\nc1\nc0\n')
    with named('ids.txt', "id 'c0' is listed twice"): pairs_from_folder(standard_folder(t / 'std'), t / 'ids.txt')

@case('id list', 'an id whose frame is not there')
def _(t, c):
    (t / 'ids.txt').write_text('c0\nc7\n')
    with named('c7.jpg', "frame of listed id 'c7' not found"): pairs_from_folder(standard_folder(t / 'std'), t / 'ids.txt')

@case('id list', 'an id whose audio is not there')
def _(t, c):
    root = standard_folder(t / 'std'); (root / 'audio' / 'c1.wav').unlink()
    with named('c1.wav', "audio of listed id 'c1' not found"): pairs_from_folder(root, ['c0', 'c1'])

@case('id list', 'an id without a vggss.json entry')
def _(t, c):
    root = standard_folder(t / 'std'); vggss(root / 'vggss.json', [{'file': 'c0', 'bbox': [[0, 0, 1, 1]]}])
    with named('vggss.json', "no entry for listed id 'c1'"): pairs_from_folder(root, ['c0', 'c1'], 'vggss')

@case('id list', 'a data folder that is not there')
def _(t, c):
    with named('nowhere', 'data folder not found'): pairs_from_folder(t / 'nowhere')

@case('id list', 'a folder without frames')
def _(t, c):
    (t / 'bare').mkdir()
    with named('frames', 'folder not found'): pairs_from_folder(t / 'bare')


# ---------------------------------------------------------------- a DataLoader worker's error
@case('worker', 'a corrupt frame read in a DataLoader worker surfaces as DataError, its message first')
def _(t, c):
    root = standard_folder(t / 'std'); garble_scan(jpeg(t / 'ok.jpg', 96, 128), root / 'frames' / 'c1.jpg', 100, 60)
    dl = torch.utils.data.DataLoader(AVDataset(pairs_from_folder(root), seconds=0.5), batch_size=3, num_workers=1,
                                     collate_fn=collate_av)
    with pytest.raises(DataError) as err: next(iter(dl))
    assert str(err.value).startswith(str(root / 'frames' / 'c1.jpg') + ': corrupt JPEG data'), str(err.value)
    assert err.value.worker == 'DataLoader worker process 0' and err.value.path == root / 'frames' / 'c1.jpg'


# ---------------------------------------------------------------- scene sets
def _scene_copy(t, c):
    root = t / 'scenes'; shutil.copytree(c['scenes'], root); return root

def _edit_scenes(root, split, f):
    p = root / split / 'scenes.json'; sj = json.loads(p.read_text()); f(sj); p.write_text(json.dumps(sj)); return p

def _first(sj): return sj['scenes'][next(iter(sj['scenes']))]

SCENE_EDITS = {
    'box [0, 0, 500, 20] is outside the 64x64 frame': lambda sj: _first(sj)['objects'][0].update(box=[0, 0, 500, 20]),
    'is inverted or empty': lambda sj: _first(sj)['objects'][0].update(box=[40, 10, 20, 30]),
    'box is not 4 numbers': lambda sj: _first(sj)['objects'][0].update(box=[1, 2, 3]),
    'is not an object index': lambda sj: _first(sj).update(source=7),
    "not in classes.json": lambda sj: _first(sj)['objects'][0].update({'class': 'unicorn'}),
    'no objects': lambda sj: _first(sj).update(objects=[]),
    'missing "sr"': lambda sj: sj.pop('sr'),
    '"scenes" must map scene ids to scenes': lambda sj: sj.update(scenes=[1, 2]),
}
for problem, edit in SCENE_EDITS.items():
    @case('scene set', problem)
    def _(t, c, problem=problem, edit=edit):
        root = _scene_copy(t, c); p = _edit_scenes(root, 'test', edit)
        with named(p, problem): SceneDataset(root, 'test')

@case('scene set', 'a box outside the frame where scenes.json gives no size')
def _(t, c):
    root = _scene_copy(t, c)
    p = _edit_scenes(root, 'test', lambda sj: (sj.pop('size'), _first(sj)['objects'][0].update(box=[0, 0, 90, 20])))
    ds = SceneDataset(root, 'test')
    with named(p, 'outside the 64x64 frame'): ds[0]

@case('scene set', 'invalid scenes.json')
def _(t, c):
    root = _scene_copy(t, c); (root / 'test' / 'scenes.json').write_text('{"sr": 16000,')
    with named('scenes.json', 'invalid JSON'): SceneDataset(root, 'test')

@case('scene set', 'a missing frame')
def _(t, c):
    root = _scene_copy(t, c); f = sorted((root / 'test' / 'frames').glob('*.jpg'))[0]; f.unlink()
    with named(f, 'not found'): SceneDataset(root, 'test')

@case('scene set', 'no classes.json')
def _(t, c):
    root = _scene_copy(t, c); (root / 'classes.json').unlink()
    with named('classes.json', 'classes file not found'): SceneDataset(root, 'test')


# ---------------------------------------------------------------- data specs
def _spec(t, c, **splits):
    spec = {'train': {'root': str(c['scenes'] / 'train')}, 'val': {'root': str(c['scenes'] / 'val')},
            'test': {'root': str(c['scenes'] / 'test'), 'annotations': 'vggss'}}
    spec.update(splits); p = t / 'spec.json'; p.write_text(json.dumps(spec)); return p

@case('data spec', 'invalid JSON')
def _(t, c):
    from avl_nb.cli import make_datasets
    (t / 'spec.json').write_text('{"train": ')
    with named('spec.json', 'invalid JSON'): make_datasets(str(t / 'spec.json'))

@case('data spec', 'no train split')
def _(t, c):
    from avl_nb.cli import make_datasets
    (t / 'spec.json').write_text(json.dumps({'test': {'root': 'x'}}))
    with named('spec.json', 'at least "train"'): make_datasets(str(t / 'spec.json'))

@case('data spec', 'an unknown key')
def _(t, c):
    from avl_nb.cli import make_datasets
    with named('spec.json', "split 'train': needs \"root\""): make_datasets(str(_spec(t, c, train={'root': 'x', 'labels': 'y'})))

@case('data spec', 'a split that is not an object')
def _(t, c):
    from avl_nb.cli import make_datasets
    with named('spec.json', "split 'val': needs \"root\""): make_datasets(str(_spec(t, c, val='scenes/val')))

@case('data spec', 'a root that is not there')
def _(t, c):
    from avl_nb.cli import make_datasets
    with named('nope', 'data folder not found'): make_datasets(str(_spec(t, c, train={'root': 'nope'})))

@case('data spec', 'validation equal to test')
def _(t, c):
    from avl_nb.cli import make_datasets
    p = _spec(t, c, val={'root': str(c['scenes'] / 'test')})
    with named('spec.json', "split 'val' shares", 'a model would be chosen on test items'): make_datasets(str(p))

@case('data spec', 'training ids among the test ids')
def _(t, c):
    from avl_nb.cli import make_datasets
    p = _spec(t, c, train={'root': str(c['scenes'] / 'test')})
    with named('spec.json', "split 'train' shares", 'drop_test_ids'): make_datasets(str(p))

@case('data spec', 'training ids among the test ids, with drop_test_ids', 'counted')
def _(t, c):
    from avl_nb.cli import make_datasets
    test_ids = sorted(p.stem for p in (c['scenes'] / 'test' / 'frames').glob('*.jpg'))
    p = _spec(t, c, test={'root': str(c['scenes'] / 'test'), 'ids': test_ids[:2]},
              train={'root': str(c['scenes'] / 'test'), 'drop_test_ids': True})
    ds = warned(lambda: make_datasets(str(p), size=64), "split 'train': dropped 2 of its", f'{len(test_ids) - 2} remain')
    assert len(ds['train']) == len(test_ids) - 2 and not {q.id for q in ds['train'].pairs} & set(test_ids[:2])

@case('data spec', 'a data path that is not there')
def _(t, c):
    from avl_nb.cli import make_datasets
    with named('missing-data', 'not found'): make_datasets(str(t / 'missing-data'))


# ---------------------------------------------------------------- checkpoints
def _toy_state(c): return torch.load(c['ckpt'], map_location='cpu', weights_only=True)

@case('checkpoint', 'missing')
def _(t, c):
    with named('none.pt', 'checkpoint not found'): load_checkpoint(t / 'none.pt')

@case('checkpoint', 'zero bytes')
def _(t, c):
    (t / 'zero.pt').write_bytes(b'')
    with named('zero.pt', 'not a readable checkpoint'): load_checkpoint(t / 'zero.pt')

@case('checkpoint', 'text')
def _(t, c):
    (t / 'notes.pt').write_text('epoch 3, loss 0.2')
    with named('notes.pt', 'not a readable checkpoint'): load_checkpoint(t / 'notes.pt')

@case('checkpoint', 'cut in half')
def _(t, c):
    b = Path(c['ckpt']).read_bytes(); (t / 'half.pt').write_bytes(b[:len(b) // 2])
    with named('half.pt', 'not a readable checkpoint'): load_checkpoint(t / 'half.pt')

for legacy in (False, True):
    @case('checkpoint', f'pickled os.system ({"legacy" if legacy else "zip"} format)')
    def _(t, c, legacy=legacy):
        marker = t / 'pwned'
        class Evil:
            def __reduce__(self): return (os.system, (f'touch {marker}',))
        torch.save({'model': Evil(), 'config': {}}, t / 'evil.pt', _use_new_zipfile_serialization=not legacy)
        with named('evil.pt', 'this file holds pickled code', 'which avl_nb does not load'): load_checkpoint(t / 'evil.pt')
        cli_error('eval', '--ckpt', t / 'evil.pt', says=['evil.pt: this file holds pickled code'])
        assert not marker.exists()

@case('checkpoint', 'pickled object of a harmless class')
def _(t, c):
    torch.save({'model': {'w': torch.ones(1)}, 'extra': Path('x')}, t / 'obj.pt')
    with named('obj.pt', 'this file holds pickled code'): load_checkpoint(t / 'obj.pt')

@case('checkpoint', 'config naming os:system (the injection)')
def _(t, c):
    marker = t / 'pwned'; st = _toy_state(c)
    torch.save({**st, 'config': {**st['config'], 'method': 'os:system', 'method_args': {'command': f'touch {marker}'}}}, t / 'evil.pt')
    cli_error('eval', '--ckpt', t / 'evil.pt', says=["evil.pt: its config cannot be rebuilt: method 'os:system' is neither built in nor registered"])
    from avl_nb.cli import method_from_checkpoint
    with named('evil.pt', 'neither built in nor registered'): method_from_checkpoint(t / 'evil.pt')
    assert not marker.exists()

@case('checkpoint', 'config naming subprocess:getoutput through DMT\'s base')
def _(t, c):
    marker = t / 'pwned'; st = _toy_state(c)
    torch.save({**st, 'config': {**st['config'], 'method': 'dmt', 'method_args': {'base': 'subprocess:getoutput'}}}, t / 'evil.pt')
    cli_error('eval', '--ckpt', t / 'evil.pt', says=["method 'subprocess:getoutput' is neither built in nor registered"])
    assert not marker.exists()

@case('checkpoint', 'config naming a module that imports with side effects')
def _(t, c):
    st = _toy_state(c)
    torch.save({**st, 'config': {**st['config'], 'method': 'antigravity:fly'}}, t / 'evil.pt')
    cli_error('eval', '--ckpt', t / 'evil.pt', says=["'antigravity:fly' is neither built in nor registered"])

@case('checkpoint', 'config naming a method with an argument it does not take')
def _(t, c):
    st = _toy_state(c); torch.save({**st, 'config': {**st['config'], 'method_args': {'width': 9}}}, t / 'args.pt')
    cli_error('eval', '--ckpt', t / 'args.pt', says=["args.pt: its config cannot be rebuilt: method 'toy': got an unexpected keyword argument 'width'"])

@case('checkpoint', 'method_args that are not an object')
def _(t, c):
    st = _toy_state(c); torch.save({**st, 'config': {**st['config'], 'method_args': [3]}}, t / 'args.pt')
    cli_error('eval', '--ckpt', t / 'args.pt', says=['args.pt: its config cannot be rebuilt: method arguments must be a JSON object'])

@case('checkpoint', 'no config')
def _(t, c):
    torch.save({'model': _toy_state(c)['model']}, t / 'bare.pt')
    cli_error('eval', '--ckpt', t / 'bare.pt', says=['bare.pt: the method cannot be rebuilt from this checkpoint: it has no method config'])

@case('checkpoint', 'no model state')
def _(t, c):
    torch.save({'epoch': 3}, t / 'nomodel.pt')
    with named('nomodel.pt', 'not an avl_nb checkpoint'): load_checkpoint(t / 'nomodel.pt')

@case('checkpoint', 'a config that is not a mapping')
def _(t, c):
    torch.save({'model': {}, 'config': [1, 2]}, t / 'cfg.pt')
    with named('cfg.pt', 'its "config" is not a mapping'): load_checkpoint(t / 'cfg.pt')

@case('checkpoint', 'the weights of another model')
def _(t, c):
    st = _toy_state(c); torch.save({**st, 'model': ToyMethod(dim=48).state_dict()}, t / 'other.pt')
    cli_error('eval', '--ckpt', t / 'other.pt', says=["other.pt: holds the weights of another model of method 'toy'", 'of another shape'])

@case('checkpoint', 'weights with keys missing')
def _(t, c):
    st = _toy_state(c); torch.save({**st, 'model': {k: v for k, v in st['model'].items() if not k.startswith('aud.')}}, t / 'part.pt')
    cli_error('eval', '--ckpt', t / 'part.pt', says=['part.pt: holds the weights of another model', '4 weights missing (e.g. aud.'])

@case('checkpoint', 'a config without its data')
def _(t, c):
    st = _toy_state(c); cfg = {k: v for k, v in st['config'].items() if k != 'size'}
    torch.save({**st, 'config': cfg}, t / 'nodata.pt')
    cli_error('eval', '--ckpt', t / 'nodata.pt', says=["nodata.pt: its config has no 'size'"])

@case('checkpoint', 'a weights file holding pickled code (read_state_dict)')
def _(t, c):
    from avl_nb.encoders import read_state_dict
    marker = t / 'pwned'
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {marker}',))
    torch.save({'conv.weight': Evil()}, t / 'w.pth')
    with named('w.pth', 'this file holds pickled code'): read_state_dict(t / 'w.pth')
    assert not marker.exists()

@case('checkpoint', 'resuming a run folder that holds another method\'s run')
def _(t, c):
    run = t / 'run'; run.mkdir(); shutil.copy(c['ckpt'], run / 'last.pt')
    cli_error('train', '--method', 'fnac', '--data', 'toy', '--out', run, '--epochs', 1, '--quiet',
              says=["last.pt: holds a run with method 'toy', not 'fnac'", '--no-resume'])
    assert torch.load(run / 'last.pt', weights_only=True)['epoch'] == 1           # untouched

@case('checkpoint', 'resuming a run folder with other method arguments')
def _(t, c):
    run = t / 'run'; run.mkdir(); shutil.copy(c['ckpt'], run / 'last.pt')
    cli_error('train', '--method', 'toy', '--method-args', '{"dim": 16}', '--data', 'toy', '--out', run, '--epochs', 2, '--quiet',
              says=["last.pt: holds a run with method_args {}, not {'dim': 16}"])


# ---------------------------------------------------------------- training logs
@case('log', 'a line cut short')
def _(t, c):
    (t / 'log.jsonl').write_text('{"kind": "step", "epoch": 0, "step": 1}\n{"kind": "st')
    with named('log.jsonl', 'line 2: not a JSON record', 'cut short'): read_log(t / 'log.jsonl')

@case('log', 'a malformed line in the middle')
def _(t, c):
    (t / 'log.jsonl').write_text('{"kind": "step", "epoch": 0}\n{kind: step}\n{"kind": "epoch", "epoch": 1}\n')
    with named('log.jsonl', 'line 2: not a JSON record'): read_log(t / 'log.jsonl')

@case('log', 'binary')
def _(t, c):
    (t / 'log.jsonl').write_bytes(bytes(range(256)))
    with named('log.jsonl', 'not a text log'): read_log(t / 'log.jsonl')

@case('log', 'a record without a kind')
def _(t, c):
    (t / 'log.jsonl').write_text('{"epoch": 0, "loss": 1.0}\n')
    with named('log.jsonl', 'line 1: not a log record'): read_log(t / 'log.jsonl')

@case('log', 'a JSON value that is not a record')
def _(t, c):
    (t / 'log.jsonl').write_text('{"kind": "step", "epoch": 0}\n[1, 2, 3]\n')
    with named('log.jsonl', 'line 2: not a log record'): read_log(t / 'log.jsonl')

@case('log', 'missing')
def _(t, c):
    with named('log.jsonl', 'training log not found'): read_log(t / 'log.jsonl')

@case('log', 'a cut last line before a resume is removed, with a warning', 'counted')
def _(t, c):
    run = t / 'run'; shutil.copytree(Path(c['ckpt']).parent, run)
    with open(run / 'log.jsonl', 'a') as f: f.write('{"kind": "step", "epoch": 1, "st')
    n = len((run / 'log.jsonl').read_text().splitlines()) - 1
    dls = make_loaders(ToyAV(64, seed=0), ToyAV(32, seed=1), batch_size=32)
    warned(lambda: fit(ToyMethod(), dls, epochs=2, out=run, resume=True, progress=False, config=_toy_state(c)['config']),
           'log.jsonl: removed its last line, cut short at 32 bytes')
    assert len(read_log(run / 'log.jsonl')) == n + 2 + 1                # the kept records, then epoch 2's two steps and its summary


# ---------------------------------------------------------------- command lines
TRAIN = ['train', '--method', 'toy', '--data', 'toy', '--quiet']
CLI_CASES = [
    (['--epochs', '0'], 'epochs must be an integer >= 1, not 0'), (['--epochs', '-3'], 'epochs must be an integer >= 1'),
    (['--epochs', 'ten'], "argument --epochs: invalid int value: 'ten'"), (['--batch-size', '0'], 'batch_size must be an integer >= 1'),
    (['--lr', '0'], 'lr must be a number > 0, not 0.0'), (['--lr=-0.01'], 'lr must be a number > 0'), (['--lr', 'nan'], 'lr must be a number > 0, not nan'),
    (['--lr', 'inf'], 'lr must be a number > 0, not inf'), (['--size', '8'], 'size must be an integer >= 32 and <= 1024, not 8'),
    (['--size', '5000'], 'size must be an integer >= 32 and <= 1024, not 5000'), (['--workers=-1'], 'workers must be an integer >= 0'),
    (['--seed=-1'], 'seed must be an integer >= 0'), (['--warmup=-5'], 'warmup must be an integer >= 0'),
    (['--clip', '0'], 'clip must be a number > 0'), (['--ckpt-every', '0'], 'ckpt_every must be an integer >= 1'),
    (['--seconds', '0'], 'seconds must be a number > 0 and <= 60'), (['--seconds', '600'], 'seconds must be a number > 0 and <= 60'),
    (['--weight-decay=-1'], 'weight_decay must be a number >= 0'), (['--labelled-fraction', '1.5'], 'labelled_fraction must be a number >= 0 and <= 1'),
    (['--protocol', 'ezvsl'], "argument --protocol: invalid choice: 'ezvsl' (choose from 'ezvsl-test',"), (['--metric', 'iou'], "argument --metric: invalid choice: 'iou'"),
    (['--metric', 'ap'], "metric 'ap' is not reported by protocol 'ezvsl-train'"), (['--sched', 'step'], "argument --sched: invalid choice: 'step'"),
    (['--method-args', '{dim: 3}'], '--method-args is not valid JSON'), (['--method-args', '[3]'], 'method_args must be a JSON object'),
    (['--method-args', '{"dims": 3}'], "method 'toy': got an unexpected keyword argument 'dims'"),
    (['--lr-groups', '{"vis": }'], '--lr-groups is not valid JSON'), (['--lr-groups', '{"vis": -1}'], "lr_groups['vis'] must be a number > 0"),
    (['--lr-groups', '[1]'], 'lr_groups must be a JSON object'), (['--target', 'point'], "argument --target: invalid choice: 'point'"),
    (['--nonsense'], 'unrecognized arguments: --nonsense'),
]
for args, says in CLI_CASES:
    @case('command line', f'train {" ".join(args)}')
    def _(t, c, args=args, says=says):
        cli_error(*TRAIN, '--out', t / 'run', *args, says=[says])
        assert not (t / 'run').exists()                                  # refused before anything was written

for argv, says in [(['train', '--method', 'nope', '--data', 'toy', '--out', '{tmp}/run'], "unknown method 'nope'"),
                   (['train', '--method', 'avl_nb.train:NoSuchMethod', '--data', 'toy', '--out', '{tmp}/run'], "method 'avl_nb.train:NoSuchMethod' cannot be imported"),
                   (['train', '--method', 'avl_nb.toy:ToyAV', '--data', 'toy', '--method-args', '{"bins": 3}', '--out', '{tmp}/run'], "got an unexpected keyword argument 'bins'"),
                   (['train', '--method', 'toy', '--data', '{tmp}/nowhere', '--out', '{tmp}/run'], 'nowhere: not found'),
                   (['train', '--method', 'ezvsl', '--data', '{tmp}/nowhere', '--out', '{tmp}/run'], 'nowhere: not found'),
                   (['train', '--method', 'toy', '--data', '{tmp}', '--out', '{tmp}/run'], 'neither a scene set (no classes.json), a data spec (.json) nor an AVSBench folder'),
                   (['train', '--method', 'toy'], 'the following arguments are required: --data, --out'),
                   (['eval', '--ckpt', '{tmp}/none.pt'], 'none.pt: checkpoint not found'),
                   (['eval', '--ckpt', '{ckpt}', '--protocol', 'flickr'], "argument --protocol: invalid choice: 'flickr'"),
                   (['eval', '--ckpt', '{ckpt}', '--split', 'valid'], "split 'valid' not found in toy"),
                   (['eval', '--ckpt', '{ckpt}', '--data', '{tmp}/elsewhere'], 'elsewhere: not found'),
                   (['build-scenes', '--root', '{tmp}/s', '--classes', 'unicorn'], 'unicorn'),
                   (['build-scenes', '--root', '{tmp}/s', '--n-objects', '0'], '--n-objects must be an integer >= 1'),
                   (['build-scenes', '--root', '{tmp}/s', '--size', '4'], '--size must be an integer >= 32 and <= 512'),
                   (['demo', '--epochs', '0', '--root', '{tmp}/s'], '--epochs must be an integer >= 1'),
                   (['fly'], "argument cmd: invalid choice: 'fly'"), ([], 'the following arguments are required: cmd')]:
    @case('command line', ' '.join(argv) or '(nothing)')
    def _(t, c, argv=argv, says=says):
        cli_error(*[a.replace('{tmp}', str(t)).replace('{ckpt}', str(c['ckpt'])) for a in argv], says=[says])

@case('command line', 'a data spec without a validation split: trained, said once (no best.pt)', 'counted')
def _(t, c):
    root = standard_folder(t / 'std', ids=tuple(f'c{k}' for k in range(4)))
    (t / 'spec.json').write_text(json.dumps({'train': {'root': str(root)}}))
    code, out, err = cli('train', '--method', 'toy', '--data', t / 'spec.json', '--out', t / 'run', '--batch-size', 4, '--size', 32,
                         '--epochs', 1, '--quiet')
    assert code == 0 and err.strip().splitlines() == ["avl-nb: warning: " + str(t / 'spec.json') +
        ": no 'val' split: nothing validates the run, so there is no best.pt (last.pt only)"], err
    assert sorted(p.name for p in (t / 'run').iterdir()) == ['last.pt', 'log.jsonl']

@case('command line', '--debug shows the traceback instead of one line')
def _(t, c):
    from avl_nb.cli import main
    with pytest.raises(ValueError, match='epochs must be an integer >= 1'): main(['--debug', *TRAIN, '--out', str(t / 'run'), '--epochs', '0'])

@case('command line', 'a corrupt frame met in a DataLoader worker during training: one line naming the file')
def _(t, c):
    root = standard_folder(t / 'std', ids=tuple(f'c{k}' for k in range(8)))
    garble_scan(jpeg(t / 'ok.jpg', 96, 128), root / 'frames' / 'c5.jpg', 100, 60)
    (t / 'spec.json').write_text(json.dumps({'train': {'root': str(root), 'ids': [f'c{k}' for k in range(6)]},
                                             'val': {'root': str(root), 'ids': ['c6', 'c7']}}))
    cli_error('train', '--method', 'toy', '--data', t / 'spec.json', '--out', t / 'run', '--workers', 1, '--batch-size', 4,
              '--size', 32, '--epochs', 1, '--quiet', says=[f"{root / 'frames' / 'c5.jpg'}: corrupt JPEG data"])


# ---------------------------------------------------------------- the run
@pytest.fixture(scope='module')
def ctx(tmp_path_factory):
    "A trained toy checkpoint (one epoch, through the CLI) and a small built scene set, shared by the cases."
    from avl_nb.scenes import build_scenes
    d = tmp_path_factory.mktemp('corpus')
    code, out, err = cli('train', '--method', 'toy', '--data', 'toy', '--out', d / 'toy', '--epochs', 1, '--batch-size', 32, '--quiet')
    assert code == 0, err
    scenes = build_scenes(d / 'scenes', ['dog', 'owl', 'frog'], size=64, n_train=8, n_val=4, n_test=6, seconds=1.0, heldout=False)
    return dict(ckpt=d / 'toy' / 'last.pt', scenes=Path(scenes))

@pytest.mark.parametrize('case', CASES, ids=[f'{c.group}: {c.name}' for c in CASES])
def test_bad_input(case, ctx, tmp_path):
    case.run(tmp_path, ctx)

def test_the_corpus():
    "At least 100 cases, every group of the issue covered, every outcome either a named error or a counted behaviour."
    assert len(CASES) >= 100, len(CASES)
    assert {c.outcome for c in CASES} <= {'error', 'counted'}
    assert {'image', 'audio', 'flickr xml', 'vggss json', 'id list', 'worker', 'scene set', 'data spec', 'checkpoint', 'log',
            'command line'} == {c.group for c in CASES}
    assert len({(c.group, c.name) for c in CASES}) == len(CASES)         # no case counted twice


if __name__ == '__main__':
    from collections import Counter
    n = Counter((c.group, c.outcome) for c in CASES)
    print(f'{len(CASES)} bad inputs')
    for g in dict.fromkeys(c.group for c in CASES):
        print(f'  {g:13s} ' + ', '.join(f'{n[g, o]} {o}' for o in ('error', 'counted') if n[g, o]))
    print('  in all: ' + ', '.join(f'{sum(v for (g, o), v in n.items() if o == k)} {k}' for k in ('error', 'counted')))
