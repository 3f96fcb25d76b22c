"""Radial k-space masks: every spoke is a straight diameter through DC.

Each spoke is drawn on its own with ``_radial_lines`` (one angle) and
checked against its ideal line ``(cy, cx) + t (sin a, cos a)``.
"""
import math

import numpy as np
import pytest

from dunseg.physics.operators import _radial_lines, radial_mask

SHAPES = [(127, 127), (128, 128), (96, 160), (255, 256), (256, 256)]
NUM_SPOKES = 60


def _angles(n=NUM_SPOKES, theta0=0.1234):
    return theta0 + math.pi * np.arange(n) / n


def _distance_to_line(rows, cols, cy, cx, angle):
    # the line through (cy, cx) along (drow, dcol) = (sin a, cos a)
    return np.abs((rows - cy) * math.cos(angle) -
                  (cols - cx) * math.sin(angle))


def _mirror_mismatches(mask):
    """Pixels whose point mirror about DC is inside but set differently."""
    h, w = mask.shape
    cy, cx = h // 2, w // 2
    rows, cols = np.mgrid[0:h, 0:w]
    mr, mc = 2 * cy - rows, 2 * cx - cols
    inside = (mr >= 0) & (mr < h) & (mc >= 0) & (mc < w)
    mirrored = np.zeros_like(mask)
    mirrored[inside] = mask[mr[inside], mc[inside]]
    return int((inside & (mask != mirrored)).sum())


@pytest.mark.parametrize('shape', SHAPES)
def test_every_spoke_hits_dc_and_follows_its_line(shape):
    h, w = shape
    cy, cx = h // 2, w // 2
    missed, worst = [], 0.0
    for a in _angles():
        spoke = _radial_lines(h, w, np.array([a]))
        if not spoke[cy, cx]:
            missed.append(round(math.degrees(a), 2))
        rows, cols = np.nonzero(spoke)
        worst = max(worst, _distance_to_line(rows, cols, cy, cx, a).max())
        # a full diameter: it reaches the image border on both sides
        assert rows.min() == 0 or cols.min() == 0
        assert rows.max() >= h - 1 or cols.max() >= w - 1
    assert not missed, f'{len(missed)} spokes miss DC at {shape}: {missed}'
    assert worst <= 1.0, f'a spoke pixel is {worst:.2f} px off its line'


@pytest.mark.parametrize('shape', SHAPES)
def test_spokes_and_mask_are_point_symmetric_about_dc(shape):
    h, w = shape
    for a in _angles(12):
        assert _mirror_mismatches(_radial_lines(h, w, np.array([a]))) == 0
    mask = radial_mask(shape, num_lines=30, seed=3)
    assert _mirror_mismatches(mask) == 0
    assert mask[h // 2, w // 2] == 1


def test_spokes_are_connected_and_one_pixel_wide():
    h, w = 64, 80
    for a in _angles(24):
        spoke = _radial_lines(h, w, np.array([a]))
        rows, cols = np.nonzero(spoke)
        # one pixel per step along the major axis, no gaps
        if abs(math.cos(a)) >= abs(math.sin(a)):
            assert np.array_equal(np.unique(cols), np.arange(
                cols.min(), cols.max() + 1))
            assert len(cols) == len(np.unique(cols))
        else:
            assert np.array_equal(np.unique(rows), np.arange(
                rows.min(), rows.max() + 1))
            assert len(rows) == len(np.unique(rows))


@pytest.mark.parametrize('shape', [(127, 127), (128, 128), (96, 160)])
@pytest.mark.parametrize('acceleration', [2, 4, 8])
def test_acceleration_search(shape, acceleration):
    mask = radial_mask(shape, acceleration=acceleration, seed=0)
    assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
    target = 1.0 / acceleration
    assert mask.mean() >= target
    # the smallest number of spokes: one fewer stays below the target
    n = 1
    while radial_mask(shape, num_lines=n, seed=0).mean() < target:
        n += 1
    assert np.array_equal(mask, radial_mask(shape, num_lines=n, seed=0))
    assert radial_mask(shape, num_lines=n - 1, seed=0).mean() < target \
        if n > 1 else True


def test_golden_angle_step_is_180_over_phi():
    """Consecutive golden-angle spokes are 180°/φ ≈ 111.246° apart
    (Winkelmann et al., IEEE TMI 2007)."""
    phi = (1 + math.sqrt(5)) / 2
    step = math.pi / phi
    assert math.degrees(step) == pytest.approx(111.246, abs=1e-3)
    shape, seed = (96, 96), 5
    theta0 = np.random.default_rng(seed).uniform(0, math.pi)
    for n in (2, 3, 7):
        got = radial_mask(shape, num_lines=n, golden_angle=True, seed=seed)
        expected = _radial_lines(*shape, theta0 + step * np.arange(n))
        assert np.array_equal(got, expected.astype(np.float32)), n
    # 111.25° spokes differ from the old 158.75° step
    old = _radial_lines(*shape, theta0 + math.radians(158.75) * np.arange(2))
    assert not np.array_equal(
        radial_mask(shape, num_lines=2, golden_angle=True, seed=seed), old)
