import numpy as np
import pytest

from dunseg.physics import (
    SYNTHESIZABLE,
    add_gaussian_noise,
    add_haze,
    add_rain,
    blur_image,
    gaussian_kernel,
    jpeg_compress,
    low_light,
    practical_lowres,
    rain_streak_layer,
    smooth_depth_map,
    synthesize,
)


def rng(seed=0):
    return np.random.default_rng(seed)


def test_noise_std_matches_sigma():
    img = np.full((64, 64, 3), 0.5, np.float32)
    for sigma in (15, 25, 50):
        noisy = add_gaussian_noise(img, sigma, rng(), clip=False)
        assert (noisy - img).std() == pytest.approx(sigma / 255, rel=0.03)
    clipped = add_gaussian_noise(img, 50, rng(), quantize=True)
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert np.allclose(clipped * 255, np.round(clipped * 255), atol=1e-4)
    with pytest.raises(TypeError, match='float'):
        add_gaussian_noise(np.zeros((4, 4, 3), np.uint8), 15, rng())


def test_haze_tends_to_airlight_with_depth():
    img = np.random.default_rng(1).uniform(0, 0.4,
                                           (32, 32, 3)).astype(np.float32)
    depth = np.tile(np.linspace(0, 1, 32, dtype=np.float32)[:, None],
                    (1, 32))  # far at the bottom
    hazy = add_haze(img, rng(), depth=depth, beta=1.5, airlight=0.9)
    dist = np.abs(hazy - 0.9).mean(axis=(1, 2))  # per row
    assert dist[-1] < dist[0] and np.all(np.diff(dist) < 1e-6)
    assert hazy.mean() > img.mean()  # haze brightens a dark scene
    # exact model at a pixel: I = J t + A (1 - t), t = exp(-beta d)
    t = np.exp(-1.5 * (0.1 + 1.1 * depth[5, 0]))
    assert hazy[5, 0, 0] == pytest.approx(img[5, 0, 0] * t + 0.9 * (1 - t),
                                          abs=0.031)  # +-0.03 A jitter
    d = smooth_depth_map((40, 50), rng())
    assert d.shape == (40, 50) and d.min() == 0 and d.max() == 1
    with pytest.raises(ValueError, match='depth'):
        add_haze(img, rng(), depth=np.zeros((3, 3)))


def test_rain_low_light_blur_jpeg():
    img = np.random.default_rng(2).uniform(0.2, 0.6,
                                           (48, 48, 3)).astype(np.float32)
    layer = rain_streak_layer((48, 48),
                              rng(),
                              density=2.0,
                              length=12,
                              angle=10,
                              intensity=0.8)
    assert layer.max() == pytest.approx(0.8, rel=1e-4) and layer.min() >= 0
    rainy = add_rain(img, rng(), layer=layer)
    assert np.allclose(rainy, np.clip(img + layer[..., None], 0, 1))
    assert (rain_streak_layer((48, 48), rng(), density=2.5)
            > 0.05).mean() > (rain_streak_layer((48, 48), rng(), density=0.5)
                              > 0.05).mean()

    dark = low_light(img, rng(), scale=0.2, gamma=1.5)
    assert dark.mean() < 0.5 * img.mean()
    assert low_light(img,
                     rng(), scale=0.1).mean() < low_light(img,
                                                          rng(),
                                                          scale=0.3).mean()

    blurred = blur_image(img, gaussian_kernel(7, 2.0))
    assert blurred.std() < img.std() and blurred.shape == img.shape

    q10, q90 = jpeg_compress(img, 10), jpeg_compress(img, 90)
    err10, err90 = np.abs(q10 - img).mean(), np.abs(q90 - img).mean()
    assert err10 > err90 > 0
    assert np.array_equal(jpeg_compress(img, 30), jpeg_compress(img, 30))
    assert jpeg_compress(img[..., 0], 50).shape == (48, 48)


@pytest.mark.parametrize('name', SYNTHESIZABLE)
def test_synthesize_is_deterministic_per_seed(name):
    img = np.random.default_rng(3).uniform(0, 1,
                                           (32, 32, 3)).astype(np.float32)
    a = synthesize(img, name, rng(7))
    b = synthesize(img, name, rng(7))
    assert a.dtype == np.float32 and a.shape == img.shape
    assert a.min() >= 0 and a.max() <= 1
    assert np.array_equal(a, b)
    if name == 'clean':
        assert np.array_equal(a, img) and a is not img
        return
    assert not np.allclose(a, img)
    if name != 'jpeg':  # jpeg draws only the quality
        assert not np.array_equal(a, synthesize(img, name, rng(8)))


def test_synthesize_params_and_errors():
    img = np.full((16, 16, 3), 0.5, np.float32)
    out = synthesize(img, 'dehaze', rng(), {'dehaze': dict(beta=0.0)})
    assert np.allclose(out, img)  # t = 1: no haze
    with pytest.raises(KeyError, match='unknown degradation'):
        synthesize(img, 'desnow', rng())


def test_practical_lowres_removes_detail_by_scale():
    # a checkerboard of 2-pixel squares is pure high frequency: down-sampling
    # by 2.5-4 must wipe it out, and a larger factor must leave less of it
    y, x = np.mgrid[:64, :64]
    img = (((y // 2 + x // 2) % 2) * 0.8 + 0.1).astype(np.float32)
    img = np.repeat(img[..., None], 3, axis=2)

    def detail(a):
        return np.abs(np.diff(a, axis=1)).mean()

    mild = practical_lowres(img, rng(1), scale=(1.2, 1.2), noise=(0, 0),
                            jpeg=(95, 95), blur_sigma=(0.1, 0.1))
    strong = practical_lowres(img, rng(1), scale=(4.0, 4.0), noise=(0, 0),
                              jpeg=(95, 95), blur_sigma=(0.1, 0.1))
    assert mild.shape == strong.shape == img.shape
    assert detail(strong) < detail(mild) < detail(img)
    assert detail(strong) < 0.2 * detail(img)
    grey = practical_lowres(img[..., :1], rng(2))
    assert grey.shape == (64, 64, 1) and grey.dtype == np.float32
    with pytest.raises(TypeError, match='float image'):
        practical_lowres((img * 255).astype(np.uint8), rng())


def test_synthesize_clean_takes_no_parameters():
    img = np.full((8, 8, 3), 0.5, np.float32)
    with pytest.raises(KeyError, match="'clean' takes no parameters"):
        synthesize(img, 'clean', rng(), {'clean': dict(sigma=1)})
