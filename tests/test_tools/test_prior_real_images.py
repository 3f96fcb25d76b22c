"""tools/experiments/prior_real_images.py: its own degradations, the
held-out photographs and the per-class scoring of a prior."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

from ..conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location(
    'prior_real_images',
    osp.join(REPO_ROOT, 'tools', 'experiments', 'prior_real_images.py'))
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)

VLU_CONFIG = osp.join(REPO_ROOT, 'configs', 'vlunet',
                      'clip-adapter_tiny_12e_synthetic-degradation-64x64.py')


def _photo():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    img = 0.5 + 0.3 * np.sin(xx / 7)[..., None] * np.cos(yy / 11)[..., None]
    return np.clip(img + rng.uniform(-0.05, 0.05, (120, 160, 3)), 0,
                   1).astype(np.float32)


def test_degradations_are_deterministic_and_look_as_named():
    photo = _photo()
    out = {kind: script.degrade(photo, kind, seed=0, draw=0)
           for kind in script.DEGRADE}
    for kind, img in out.items():
        assert img.shape == photo.shape and img.dtype == np.float32, kind
        assert 0 <= img.min() and img.max() <= 1, kind
        np.testing.assert_array_equal(
            img, script.degrade(photo, kind, seed=0, draw=0))
        assert kind == 'clean' or not np.array_equal(img, photo), kind
    np.testing.assert_array_equal(out['clean'], photo)
    residual = out['noise'] - photo
    assert 0.08 < residual.std() < 0.11  # sigma 25 of 255, a little clipped
    assert out['lowlight'].mean() < 0.5 * photo.mean()
    assert out['haze'].std() < 0.6 * photo.std()  # contrast washed out
    assert out['haze'].mean() > photo.mean()
    assert out['rain'].mean() > photo.mean()  # bright streaks added

    def detail(img):
        return np.abs(np.diff(img, axis=1)).mean()

    for kind in ('blur', 'lowres'):
        assert detail(out[kind]) < 0.7 * detail(photo), kind
    defocus = script.degrade(photo, 'blur', seed=0, draw=1)
    assert not np.array_equal(defocus, out['blur'])


def test_held_out_photos_are_no_training_source():
    from dunseg.datasets.synthetic_degradation import SKIMAGE_SOURCES
    assert not set(script.HELD_OUT_PHOTOS) & set(SKIMAGE_SOURCES)
    photos = script.held_out_photos([1.0, 0.5])
    assert len(photos) == 2 * len(script.HELD_OUT_PHOTOS)
    full = photos['matplotlib:grace_hopper.jpg', 1.0]
    half = photos['matplotlib:grace_hopper.jpg', 0.5]
    assert full.shape == (600, 512, 3) and half.shape == (300, 256, 3)


def test_a_prior_is_scored_on_the_classes_it_knows():
    _, model = script.load_prior(VLU_CONFIG, '')
    classes = tuple(model.classes)
    photos = {('synthetic', 1.0): _photo()}
    confusion = script.score_real(model, classes, photos, draws=2, seed=0)
    # the seven VLU-Net classes have no JPEG, low-resolution or clean word
    assert list(confusion) == ['noise', 'haze', 'rain', 'blur', 'lowlight']
    for row in confusion.values():
        assert list(row) == list(classes) and sum(row.values()) == 2
    table, mean = script.markdown('vlu', classes, confusion)
    assert '| noise |' in table and 0 <= mean <= 100


def test_bad_arguments_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.parse_args(['--prior', 'x', str(tmp_path / 'none.py'), ''])
    assert 'no config file' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.parse_args(['--prior', 'x', VLU_CONFIG,
                           str(tmp_path / 'none.pth')])
    assert 'no checkpoint' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.parse_args(['--prior', 'x', VLU_CONFIG, '', '--sizes', '2'])
    assert '--sizes' in capsys.readouterr().err
