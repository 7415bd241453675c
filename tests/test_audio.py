"Behaviour of `avl_nb.audio`: the reference log-PSD against scipy, the PANNs log-mel against librosa, spectrogram masks."
import copy, math

import librosa, numpy as np, pytest, scipy.signal, soundfile as sf, torch

from avl_nb.audio import tukey_window, LogPSD, log_psd, LogMel, panns_logmel, SpecMask
from avl_nb.data import load_wave

FLOOR = math.log(1e-7) / 12


# ---------------------------------------------------------------- oracles (the reference computations)
def scipy_logpsd(x, sr):
    "What LVS / EZ-VSL / SLAVC / FNAC compute, one clip at a time, in float64."
    return np.stack([np.log(scipy.signal.spectrogram(c, sr, nperseg=512, noverlap=274)[2] + 1e-7) / 12 for c in x])

def librosa_logmel(x, sr, n_fft, hop, n_mels, fmin, fmax, center=True, top_db=None):
    "librosa's log-mel, the way torchlibrosa (PANNs) builds it: Slaney mels, power 2, 10·log10 with amin 1e-10."
    S = librosa.feature.melspectrogram(y=x, sr=sr, n_fft=n_fft, hop_length=hop, win_length=n_fft, window='hann',
                                       center=center, pad_mode='reflect', power=2.0, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return np.stack([librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=top_db) for s in S])

def signals(sr, n, seed=0):
    "A batch of 5 clips that stress different steps: noise, tones, a DC offset, near-silence, digital silence."
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    return np.stack([rng.uniform(-1, 1, n),
                     0.9 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 0.3 * sr * t),
                     0.6 + 0.2 * np.sin(2 * np.pi * 1000 * t) + 0.01 * rng.standard_normal(n),
                     rng.normal(0, 1e-4, n),
                     np.zeros(n)])


# ---------------------------------------------------------------- the window
@pytest.mark.parametrize('n,alpha', [(512, 0.25), (513, 0.25), (64, 0.5), (10, 1.0), (16, 0.0), (2, 0.25), (1, 0.25)])
def test_tukey_matches_scipy(n, alpha):
    np.testing.assert_allclose(tukey_window(n, alpha).numpy(), scipy.signal.windows.tukey(n, alpha, sym=False), atol=1e-12)
    np.testing.assert_allclose(tukey_window(n, alpha, periodic=False).numpy(), scipy.signal.windows.tukey(n, alpha, sym=True), atol=1e-12)


# ---------------------------------------------------------------- log-PSD against scipy
@pytest.mark.parametrize('sr', [8000, 16000, 22050, 44100])
@pytest.mark.parametrize('seconds', [None, 0.5, 3.0])
def test_log_psd_matches_scipy(sr, seconds):
    n = 512 if seconds is None else int(sr * seconds) + 37      # one frame exactly, or a partial last frame to drop
    x = signals(sr, n, seed=sr)
    ref = scipy_logpsd(x, sr)
    out = log_psd(x, sr)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == ref.shape
    assert out.shape[:2] == (5, 257)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-4, rtol=0)
    np.testing.assert_allclose(log_psd(x, sr, dtype=torch.float64).numpy(), ref, atol=1e-10, rtol=0)
    np.testing.assert_allclose(log_psd(torch.from_numpy(x).float(), sr).numpy(), ref, atol=1e-4, rtol=0)  # float32 input
    assert LogPSD(sr).n_frames(n) == ref.shape[-1]


def test_log_psd_reference_frame_counts():
    "Frame counts of scipy.signal.spectrogram(nperseg=512, noverlap=274), the frontend of LVS (10 s, https://github.com/hche11/Localizing-Visual-Sounds-the-Hard-Way) and EZ-VSL (3 s, https://github.com/stoneMo/EZ-VSL): T = 200 for 3 s and 671 for 10 s at 16 kHz; 137/276 (3 s) and 462/925 (10 s) at 11.025/22.05 kHz."
    assert log_psd(torch.zeros(2, 48000), 16000).shape == (2, 257, 200)
    assert log_psd(torch.zeros(1, 160000), 16000).shape == (1, 257, 671)
    assert [LogPSD(sr).n_frames(3 * sr) for sr in (11025, 22050)] == [137, 276]
    assert [LogPSD(sr).n_frames(10 * sr) for sr in (11025, 22050)] == [462, 925]
    assert LogPSD(44100).n_frames(3 * 44100) == 554          # the (1, 257, 554) input AVKD's training loader expects (its datasets.py)


def test_log_psd_frequency_axis_and_floor():
    lp = LogPSD(16000)
    assert lp.freqs[1].item() == 31.25 and lp.freqs[-1].item() == 8000.0 and lp.n_freqs == 257
    # a tone sits in its bin: 1000 Hz is bin 32 at 16 kHz, bin 64 at 8 kHz
    for sr, k in [(16000, 32), (8000, 64)]:
        t = torch.arange(sr, dtype=torch.float64) / sr
        out = log_psd(torch.sin(2 * math.pi * 1000 * t)[None], sr)
        assert (out[0].argmax(0) == k).all()
    # constant input: the per-frame detrend removes it, every bin is on the floor
    np.testing.assert_allclose(log_psd(torch.full((3, 2000), -0.4), 16000).numpy(), FLOOR, atol=1e-6)


def test_log_psd_level_depends_on_sample_rate():
    "Density scaling divides by sr: the same white noise at twice the rate is log(2)/12 lower, and has mean PSD 2σ²/sr."
    x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (1, 320000)))
    hi, lo = log_psd(x, 32000, dtype=torch.float64), log_psd(x[:, ::2], 16000, dtype=torch.float64)
    assert abs((hi[0, 1:-1].mean() - lo[0, 1:-1].mean()).item() + math.log(2) / 12) < 0.003
    psd = (lo * 12).exp() - 1e-7
    assert abs(psd[0, 1:-1].mean().item() / (2 * (1 / 3) / 16000) - 1) < 0.02


# ---------------------------------------------------------------- module: device, dtype, options
def test_log_psd_module_options():
    x = torch.from_numpy(signals(16000, 5000))
    ref = scipy_logpsd(x.numpy(), 16000)
    lp = LogPSD(16000, channel=True)
    out = lp(x.float())
    assert out.shape == (5, 1, 257, ref.shape[-1])
    np.testing.assert_allclose(out[:, 0].numpy(), ref, atol=1e-4, rtol=0)
    assert lp.state_dict() == {}                              # nothing to put in a checkpoint
    assert lp.half()(x.float()).dtype == torch.float32        # casting the module does not round its window
    assert LogPSD(16000, dtype=torch.float64)(x).dtype == torch.float64
    with torch.autocast('cpu', dtype=torch.bfloat16):           # mixed precision: the front end stays float32
        a = LogPSD(16000)(x.float())
    assert a.dtype == torch.float32
    np.testing.assert_allclose(a.numpy(), ref, atol=1e-4, rtol=0)
    np.testing.assert_allclose(copy.deepcopy(LogPSD(16000))(x).numpy(), ref, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match='dtype must be'): LogPSD(16000, dtype=torch.float16)
    with pytest.raises(ValueError, match='noverlap'): LogPSD(16000, noverlap=512)
    with pytest.raises(ValueError, match='sr must be positive'): LogPSD(0)


def test_log_psd_other_frame_parameters():
    "The arguments are not decoration: other nperseg/noverlap (odd too) still match scipy."
    x = signals(8000, 3000)
    for nperseg, noverlap in [(256, 128), (255, 100)]:
        ref = np.log(scipy.signal.spectrogram(x, 8000, nperseg=nperseg, noverlap=noverlap)[2] + 1e-7) / 12
        out = LogPSD(8000, nperseg=nperseg, noverlap=noverlap, dtype=torch.float64)(torch.from_numpy(x))
        np.testing.assert_allclose(out.numpy(), ref, atol=1e-10, rtol=0)


def test_log_psd_on_the_module_device():
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    x = torch.from_numpy(signals(16000, 48000)).float()
    ref = scipy_logpsd(x.double().numpy(), 16000)
    for d in devices:
        model = torch.nn.Sequential(LogPSD(16000)).to(d)
        out = model(x.to(d))
        assert out.device.type == d
        np.testing.assert_allclose(out.cpu().numpy(), ref, atol=1e-4, rtol=0)
        assert log_psd(x.numpy(), 16000, device=d).device.type == d


# ---------------------------------------------------------------- bad input
def test_log_psd_bad_input():
    x = torch.rand(4, 2000) * 2 - 1
    x[2, 10] = float('nan'); x[3, 5] = float('inf')
    with pytest.raises(ValueError, match=r'NaN or inf samples \(batch items \[2, 3\]\)'): log_psd(x, 16000)
    with pytest.raises(ValueError, match=r'NaN or inf'): log_psd(x.numpy(), 16000)
    assert LogPSD(16000, check=False)(x)[2].isnan().any()     # unchecked: the NaN goes through
    with pytest.raises(ValueError, match=r'\(B, N\), got \(2000,\) \(one clip: pass wave\[None\]\)'): log_psd(torch.zeros(2000), 16000)
    with pytest.raises(ValueError, match='mix the channels to mono'): log_psd(torch.zeros(2, 2, 2000), 16000)
    with pytest.raises(ValueError, match=r'got \(1, 1, 1, 2000\)'): log_psd(torch.zeros(1, 1, 1, 2000), 16000)
    with pytest.raises(ValueError, match='511 samples are shorter than one frame'): log_psd(torch.zeros(2, 511), 16000)
    with pytest.raises(TypeError, match='floating-point samples'): log_psd(np.zeros((2, 2000), np.int16), 16000)
    with pytest.raises(TypeError, match='expected a torch.Tensor'): LogPSD(16000)(np.zeros((2, 2000)))


# ---------------------------------------------------------------- loading + front end
def test_padded_window_gives_floor_frames(tmp_path):
    "load_wave(short='pad'): the clip once in silence; the frames that see only the padding are on the log-PSD floor."
    clip = (0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)).astype(np.float32)   # 0.5 s
    sf.write(tmp_path / 'short.wav', clip, 16000, subtype='FLOAT')
    w = load_wave(tmp_path / 'short.wav', 16000, 3.0, 'start', short='pad')
    assert w.shape == (48000,) and np.abs(w[8000:]).max() == 0
    out = log_psd(w[None], 16000)[0]
    first_silent = -(-8000 // 238)                            # the first frame starting at or after sample 8000
    assert out.shape == (257, 200)
    assert out[:, 0].max() > -0.7                              # the tone
    np.testing.assert_allclose(out[:, first_silent:].numpy(), FLOOR, atol=1e-6)
    tiled = log_psd(load_wave(tmp_path / 'short.wav', 16000, 3.0, 'start')[None], 16000)[0]
    assert (tiled.amax(0) > -0.7).all()                        # tiling: the tone in every frame


# ---------------------------------------------------------------- log-mel against librosa
def test_panns_logmel_matches_librosa():
    sr = 32000
    rng = np.random.default_rng(1)
    t = np.arange(2 * sr) / sr
    x = np.stack([rng.uniform(-0.5, 0.5, 2 * sr), 0.8 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 5000 * t),
                  rng.normal(0, 1e-3, 2 * sr)])
    ref = librosa_logmel(x, sr, 1024, 320, 64, 50, 14000)
    out = panns_logmel()(torch.from_numpy(x).float()).numpy()
    assert out.shape == ref.shape == (3, 64, 201)
    np.testing.assert_allclose(out[[0, 2]], ref[[0, 2]], atol=1e-3, rtol=0)
    near = ref[1] > ref[1].max() - 60                          # the tones: leakage 100+ dB down is float32 rounding
    np.testing.assert_allclose(out[1][near], ref[1][near], atol=1e-3, rtol=0)
    out64 = panns_logmel().double()(torch.from_numpy(x)).numpy()
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64[[0, 2]], ref[[0, 2]], atol=1e-3, rtol=0)


def test_logmel_other_settings_match_librosa():
    sr = 16000
    x = np.random.default_rng(2).uniform(-1, 1, (2, sr))
    for center in (True, False):
        lm = LogMel(sr, n_fft=512, hop=160, n_mels=40, f_min=0, f_max=None, center=center)
        ref = librosa_logmel(x, sr, 512, 160, 40, 0, None, center=center)
        out = lm(torch.from_numpy(x).float()).numpy()
        assert out.shape == ref.shape and out.shape[-1] == lm.n_frames(sr)
        np.testing.assert_allclose(out, ref, atol=1e-3, rtol=0)
    ref = librosa_logmel(x * np.array([[1.0], [1e-3]]), sr, 512, 160, 40, 0, None, top_db=30.0)
    out = LogMel(sr, n_fft=512, hop=160, n_mels=40, f_min=0, f_max=None, top_db=30.0)(torch.from_numpy(x * np.array([[1.0], [1e-3]])).float())
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-3, rtol=0)   # top_db clips each clip against its own max


def test_logmel_shapes_and_errors():
    assert panns_logmel().n_frames(320000) == 1001             # 10 s at 32 kHz: PANNs' 1001 frames
    assert panns_logmel(channel=True)(torch.zeros(2, 32000)).shape == (2, 1, 64, 101)
    assert panns_logmel()(torch.zeros(1, 3200)).max().item() == pytest.approx(-100.0)
    with pytest.raises(ValueError, match='f_max <= sr/2'): LogMel(16000, f_max=14000)
    with pytest.raises(ValueError, match='f_min < f_max'): LogMel(32000, f_min=500, f_max=400)
    x = torch.zeros(2, 32000); x[1, 0] = float('nan')
    with pytest.raises(ValueError, match=r'NaN or inf samples \(batch items \[1\]\)'): panns_logmel()(x)
    with pytest.raises(ValueError, match=r'\(B, N\)'): panns_logmel()(torch.zeros(32000))
    with pytest.raises(ValueError, match='shorter than one frame'): panns_logmel()(torch.zeros(1, 400))


# ---------------------------------------------------------------- masks
def masked_rows_cols(out, like):
    "Fully masked rows (B, F) and columns (B, T) of a (B, F, T) output, masked cells being those that changed."
    changed = out != like
    return changed.all(2), changed.all(1)

def test_mask_axes_correct():
    x = 1 + torch.rand(300, 257, 200, generator=torch.Generator().manual_seed(0))   # never the fill value 0: every masked cell changes
    rows, cols = masked_rows_cols(SpecMask(time_width=0, seed=0).train()(x), x)
    assert not cols.any() and rows.any()
    assert ((x != SpecMask(time_width=0, seed=0).train()(x)) == rows[:, :, None]).all()  # only whole rows change
    widths = rows.sum(1)
    assert widths.max() <= 9 and (widths == 0).any()          # 0 … 9 rows
    assert rows[:, 240:].any()                                # anywhere along frequency, the top included
    rows, cols = masked_rows_cols(SpecMask(freq_width=0, seed=0).train()(x), x)
    assert not rows.any() and cols.any() and cols.sum(1).max() <= 9
    assert cols[:, 190:].any()
    for r in list(rows) + list(cols):                         # each mask is one contiguous span
        idx = r.nonzero().flatten()
        if len(idx): assert (idx.diff() == 1).all()


def test_mask_axes_fnac():
    "FNAC's masks (https://github.com/OpenNLPLab/FNAC_AVL, datasets.py): the frequency start is drawn from 0…T−1, the time start from 0…F−1."
    rows, cols = SpecMask(axes='fnac', seed=0).draw(5000, 257, 200)
    assert not rows[:, 208:].any() and rows[:, 200:208].any()    # start ≤ T−1 = 199, width ≤ 9: rows ≤ 207
    noop = (~cols.any(1)).float().mean().item()
    assert abs(noop - (0.1 + 0.9 * 57 / 257)) < 0.03           # width 0, or a start past the last frame
    rows, cols = SpecMask(axes='fnac', seed=0).draw(5000, 257, 554)  # 3 s at 44.1 kHz
    assert not cols[:, 266:].any() and rows[:, 240:].any()     # time masks never reach the second half
    rows_c, cols_c = SpecMask(axes='correct', seed=0).draw(5000, 257, 554)
    assert cols_c[:, 400:].any() and abs((~cols_c.any(1)).float().mean().item() - 0.1) < 0.02


def test_mask_modes_fill_and_seed():
    x = torch.randn(6, 1, 64, 80)
    m = SpecMask(seed=3)
    assert m.eval()(x) is x                                    # evaluation: untouched
    a = SpecMask(seed=3).train()(x)
    assert torch.equal(a, SpecMask(seed=3).train()(x)) and a.shape == x.shape
    assert ((a == 0) | (a == x)).all() and (a != x).any()
    assert not torch.equal(a, SpecMask(seed=4).train()(x))
    torch.manual_seed(0); g1 = SpecMask().train()(x)
    torch.manual_seed(0); g2 = SpecMask().train()(x)
    assert torch.equal(g1, g2)                                 # no seed: follows torch.manual_seed
    mm = SpecMask(fill='mean', seed=5).train()
    o = mm(x); ch = o != x
    assert ch.any()
    torch.testing.assert_close(o[ch], x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x)[ch])
    m1 = SpecMask(seed=7).train(); m2 = copy.deepcopy(m1)
    assert torch.equal(m1(x), m2(x))
    assert torch.equal(SpecMask(freq_width=0, time_width=0).train()(x), x)
    with pytest.raises(ValueError, match='axes must be one of'): SpecMask(axes='time')
    with pytest.raises(ValueError, match="fill must be a number or 'mean'"): SpecMask(fill='zero')
    with pytest.raises(ValueError, match=r'expected \(B, F, T\)'): SpecMask().train()(torch.zeros(64, 80))


def test_frontend_pipeline_on_device():
    d = 'cuda' if torch.cuda.is_available() else 'cpu'
    fe = torch.nn.Sequential(LogPSD(16000, channel=True), SpecMask(axes='fnac', seed=0)).to(d)
    x = (torch.rand(4, 48000) * 2 - 1).to(d)
    out = fe.train()(x)
    assert out.shape == (4, 1, 257, 200) and out.device.type == d
    assert ((out == 0).any() and torch.equal(fe.eval()(x), fe[0](x)))


def test_log_psd_cpu_blocks_and_gradients():
    "On the CPU the batch goes through in blocks of clips; the result and the gradients do not depend on the block size."
    x = (torch.rand(23, 16000, dtype=torch.float64) * 2 - 1).requires_grad_()
    whole = LogPSD(16000, dtype=torch.float64, cpu_block=10 ** 9)   # one block
    blocks = LogPSD(16000, dtype=torch.float64, cpu_block=130)      # 2 clips of 65 frames per block
    a, b = whole(x), blocks(x)
    assert a.is_contiguous() and b.is_contiguous()
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    ga, = torch.autograd.grad(a.sum(), x)
    gb, = torch.autograd.grad(b.sum(), x)
    assert torch.isfinite(ga).all() and ga.abs().sum() > 0
    torch.testing.assert_close(ga, gb)
    np.testing.assert_allclose(b.detach().numpy(), scipy_logpsd(x.detach().numpy(), 16000), atol=1e-10, rtol=0)
