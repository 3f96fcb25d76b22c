"""Procedural infrared small-target scenes: one grey frame and its target
mask per call of :class:`SIRSTSceneGenerator`, drawn from a NumPy
``Generator`` (:class:`~dunseg.datasets.SyntheticSIRSTDataset` seeds it per
sample).

A frame is composed as follows (all intensities in [0, 1]):

1. Scene: sky with multi-octave cloud noise, optionally a sea-sky line with
   horizontally stretched sea texture, or a ground line (hills or building
   skyline) with strong edges and corners.
2. Clutter that is *not* labelled: bright extended blobs (larger than any
   target), thin line-like glints and bright polygons with sharp corners.
3. Random contrast stretch, vignetting, row/column fixed-pattern noise and
   Gaussian sensor noise.
4. Targets: small 2-D Gaussian or irregular multi-lobe blobs whose peak
   amplitude is ``snr * std(local background)``. A target's mask is the set
   of pixels where its own rendered contribution is at least
   ``mask_threshold`` times its rendered peak (so at least one pixel), with
   the fraction nudged per target to keep the mask's larger bounding-box
   side inside ``target_size_range``. Targets never touch each other.
"""
import math
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

SCENE_TYPES = ('sky', 'sea', 'ground')


def _fractal_noise(
    rng: np.random.Generator,
    shape: Tuple[int, int],
    base_cells: float,
    octaves: int = 4,
    persistence: float = 0.5,
    aspect: Tuple[float, float] = (1.0, 1.0)
) -> np.ndarray:
    """Zero-mean, unit-std multi-octave noise (bicubic-upsampled grids).

    ``base_cells`` is the number of random values across the image at the
    coarsest octave; ``aspect`` = (rows, cols) multiplies it per axis, so
    ``aspect=(4, 1)`` gives horizontally stretched structure (sea waves).
    """
    height, width = shape
    out = np.zeros(shape, dtype=np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        cells = base_cells * (2**octave)
        grid_h = int(min(height, max(2, round(cells * aspect[0]))))
        grid_w = int(min(width, max(2, round(cells * aspect[1]))))
        grid = rng.standard_normal((grid_h, grid_w), dtype=np.float32)
        out += np.float32(amplitude) * cv2.resize(
            grid, (width, height), interpolation=cv2.INTER_CUBIC)
        amplitude *= persistence
    out -= out.mean()
    std = out.std()
    return out / std if std > 0 else out


def _fractal_profile(rng: np.random.Generator,
                     length: int,
                     base_cells: int,
                     octaves: int = 4) -> np.ndarray:
    """1-D version of :func:`_fractal_noise` (e.g. a hill silhouette)."""
    return _fractal_noise(
        rng, (1, length), base_cells, octaves, aspect=(0.0, 1.0))[0]


def _gaussian_profile(dy: np.ndarray, dx: np.ndarray, sigma_major: float,
                      sigma_minor: float, theta: float) -> np.ndarray:
    """Rotated anisotropic Gaussian with peak 1 at (0, 0)."""
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    u = dx * cos_t + dy * sin_t
    v = -dx * sin_t + dy * cos_t
    return np.exp(-0.5 * ((u / sigma_major)**2 + (v / sigma_minor)**2))


class SIRSTSceneGenerator:
    """Draws synthetic infrared frames with small targets and clutter.

    Args:
        img_size (tuple[int, int]): (H, W) of the frames.
        max_targets (int): Targets per frame are uniform in
            [1, max_targets] (unless the frame is target-free).
        target_size_range (tuple[int, int]): Bounds, in pixels, of the larger
            side of each target mask's bounding box.
        target_free_ratio (float): Probability that a frame has no target.
        snr_range (tuple[float, float]): Local signal-to-clutter ratio
            ``peak amplitude / std(local background)``, drawn log-uniformly.
        scene_probs (dict): Probabilities of ``'sky'``, ``'sea'`` and
            ``'ground'`` scenes (normalised).
        clutter_rate (float): Mean number of clutter objects (blobs, glints,
            polygons) per 256x256 area.
        noise_std_range (tuple[float, float]): Range of the Gaussian sensor
            noise std.
        mask_threshold (float): Fraction of a target's rendered peak that a
            pixel's target contribution must reach to be in the mask.
    """

    def __init__(self,
                 img_size: Tuple[int, int] = (256, 256),
                 max_targets: int = 3,
                 target_size_range: Tuple[int, int] = (1, 9),
                 target_free_ratio: float = 0.1,
                 snr_range: Tuple[float, float] = (3.0, 15.0),
                 scene_probs: Optional[Dict[str, float]] = None,
                 clutter_rate: float = 3.0,
                 noise_std_range: Tuple[float, float] = (0.004, 0.02),
                 mask_threshold: float = 0.4) -> None:
        if (len(img_size) != 2
                or not all(int(s) == s and s >= 16 for s in img_size)):
            raise ValueError('SIRSTSceneGenerator: img_size must be (H, W) '
                             f'with both sides >= 16, got {img_size!r}')
        low, high = target_size_range
        if not 1 <= low <= high:
            raise ValueError(
                'SIRSTSceneGenerator: target_size_range must satisfy '
                f'1 <= min <= max, got {target_size_range!r}')
        if high + 4 > min(img_size):
            raise ValueError(
                f'SIRSTSceneGenerator: targets up to {high} px do not fit in '
                f'img_size={tuple(img_size)}; use a larger image or smaller '
                'target_size_range')
        if max_targets < 1:
            raise ValueError('SIRSTSceneGenerator: max_targets must be >= 1, '
                             f'got {max_targets}')
        if not 0.0 <= target_free_ratio <= 1.0:
            raise ValueError('SIRSTSceneGenerator: target_free_ratio must be '
                             f'in [0, 1], got {target_free_ratio}')
        if not 0 < snr_range[0] <= snr_range[1]:
            raise ValueError('SIRSTSceneGenerator: snr_range must satisfy '
                             f'0 < min <= max, got {snr_range!r}')
        if not 0.0 < mask_threshold < 1.0:
            raise ValueError('SIRSTSceneGenerator: mask_threshold must be in '
                             f'(0, 1), got {mask_threshold}')
        scene_probs = dict(
            sky=0.35, sea=0.3,
            ground=0.35) if scene_probs is None else dict(scene_probs)
        unknown = set(scene_probs) - set(SCENE_TYPES)
        if unknown or any(p < 0 for p in scene_probs.values()) or sum(
                scene_probs.values()) <= 0:
            raise ValueError(
                f'SIRSTSceneGenerator: scene_probs must map a subset of '
                f'{SCENE_TYPES} to non-negative numbers with a positive sum, '
                f'got {scene_probs!r}')
        total = float(sum(scene_probs.values()))
        self.scene_probs = np.array(
            [scene_probs.get(s, 0.0) / total for s in SCENE_TYPES])

        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.max_targets = int(max_targets)
        self.target_size_range = (int(low), int(high))
        self.target_free_ratio = float(target_free_ratio)
        self.snr_range = (float(snr_range[0]), float(snr_range[1]))
        self.clutter_rate = float(clutter_rate)
        self.noise_std_range = tuple(noise_std_range)
        self.mask_threshold = float(mask_threshold)

        height, width = self.img_size
        self._rows = np.arange(height, dtype=np.float32)[:, None]
        self._cols = np.arange(width, dtype=np.float32)[None, :]
        # Squared radius normalised to 1 at the corners, for vignetting.
        self._radius2 = (((self._rows - (height - 1) / 2) / (height / 2))**2 +
                         ((self._cols - (width - 1) / 2) / (width / 2))**2) / 2
        # Scene features scale with the image; targets and clutter are in px.
        self._area_scale = height * width / 256.0**2

    # ------------------------------------------------------------------
    # Background scene
    # ------------------------------------------------------------------
    def _sky(self, rng: np.random.Generator, cloudiness: float) -> np.ndarray:
        """Smooth sky with a vertical gradient and soft-edged clouds."""
        height, width = self.img_size
        level = rng.uniform(0.15, 0.45)
        gradient = rng.uniform(-0.05, 0.15)  # IR sky brightens to horizon
        sky = level + gradient * (self._rows / height)
        density = _fractal_noise(
            rng,
            self.img_size,
            base_cells=rng.uniform(1.5, 4.0),
            octaves=5,
            persistence=rng.uniform(0.45, 0.65))
        coverage = rng.uniform(-0.8, 1.2) - cloudiness
        softness = rng.uniform(0.3, 1.5)
        clouds = np.clip((density - coverage) / softness, 0.0, 1.0)
        # Smoothstep gives cloud edges of varying sharpness, a classic source
        # of false alarms in real sky backgrounds.
        clouds = clouds * clouds * (3.0 - 2.0 * clouds)
        cloud_amp = rng.uniform(0.03, 0.3) * rng.choice([1.0, 1.0, -0.5])
        # Modulating by the density itself gives clouds internal structure
        # instead of flat plateaus.
        sky = sky + np.float32(cloud_amp) * clouds * (1.0 + 0.35 * density)
        return sky.astype(np.float32)

    def _horizon(self, rng: np.random.Generator, low: float,
                 high: float) -> np.ndarray:
        """Row of a slightly tilted straight horizon for every column."""
        height, width = self.img_size
        row0 = rng.uniform(low, high) * height
        slope = rng.uniform(-0.08, 0.08)
        return row0 + slope * (self._cols[0] - width / 2)

    def _add_sea(self, rng: np.random.Generator,
                 img: np.ndarray) -> np.ndarray:
        """Sea below a sea-sky line: stretched waves, haze band, glints."""
        height, width = self.img_size
        horizon = self._horizon(rng, 0.2, 0.7)
        below = self._rows - horizon[None, :]  # > 0 under the horizon
        # Soft 1-2 px transition like a real optical sea-sky line.
        sea_weight = np.clip(below / rng.uniform(0.5, 2.0) + 0.5, 0.0, 1.0)
        depth = np.clip(below / max(1.0, height - horizon.min()), 0.0, 1.0)

        sea_level = float(img.mean()) + rng.uniform(-0.15, 0.12)
        waves = _fractal_noise(
            rng,
            self.img_size,
            base_cells=rng.uniform(2.0, 4.0),
            octaves=4,
            persistence=0.6,
            aspect=(rng.uniform(3.0, 6.0), 0.7))
        # Nearer water (lower rows) shows larger, stronger waves.
        wave_amp = rng.uniform(0.01, 0.06) * (0.3 + 0.7 * depth)
        sea = sea_level + rng.uniform(-0.08, 0.08) * depth + wave_amp * waves
        haze = rng.uniform(-0.04, 0.12) * np.exp(
            -0.5 * (below / rng.uniform(2.0, 8.0))**2)
        img = img * (1.0 - sea_weight) + sea * sea_weight + haze

        # Sun glints: short horizontal streaks on the water; longer than any
        # target so they are clutter, not unlabeled targets.
        num_glints = rng.poisson(rng.uniform(0.0, 5.0) * self._area_scale)
        if num_glints:
            canvas = np.zeros(self.img_size, dtype=np.float32)
            for _ in range(num_glints):
                row = rng.uniform(horizon.max() + 3, height - 1)
                if row >= height - 1:
                    break
                col = rng.uniform(0, width)
                half_len = rng.uniform(7, 20)
                tilt = rng.uniform(-0.05, 0.05)
                p0 = (int(col - half_len), int(row - tilt * half_len))
                p1 = (int(col + half_len), int(row + tilt * half_len))
                cv2.line(canvas, p0, p1, float(rng.uniform(0.04, 0.2)), 1)
            img = img + cv2.GaussianBlur(canvas, (0, 0), 0.6)
        return img.astype(np.float32)

    def _add_ground(self, rng: np.random.Generator,
                    img: np.ndarray) -> np.ndarray:
        """Hills or a building skyline: strong edges and corners."""
        height, width = self.img_size
        ground_row = rng.uniform(0.4, 0.85) * height
        base = float(img.mean()) + rng.uniform(-0.2, 0.2)
        if rng.random() < 0.5:
            # Hills: a smooth fractal silhouette.
            top = ground_row + rng.uniform(0.03, 0.15) * height * \
                _fractal_profile(rng, width, base_cells=rng.integers(2, 6))
            surface = np.full(width, base, dtype=np.float32)
        else:
            # Buildings: piecewise-constant roofs with their own intensity,
            # giving vertical edges and bright/dark corners.
            top = np.full(width, ground_row, dtype=np.float32)
            surface = np.full(width, base, dtype=np.float32)
            col = int(rng.integers(0, 10))
            scale = width / 256.0
            while col < width:
                building_w = int(rng.uniform(10, 50) * scale) + 3
                if rng.random() < 0.75:
                    roof = ground_row - rng.uniform(0.04, 0.4) * height
                    top[col:col + building_w] = roof
                    surface[col:col + building_w] = base + rng.normal(0, 0.08)
                col += building_w + int(rng.integers(0, 8))
        texture = _fractal_noise(
            rng,
            self.img_size,
            base_cells=rng.uniform(4.0, 10.0),
            octaves=3,
            persistence=0.6)
        ground = surface[None, :] + rng.uniform(0.01, 0.06) * texture
        # Ground is warmer near the camera (bottom rows).
        ground = ground + rng.uniform(-0.05, 0.1) * (self._rows / height)
        inside = (self._rows >= top[None, :]).astype(np.float32)
        # A 1 px blur keeps edges sharp but not aliased.
        inside = cv2.GaussianBlur(inside, (0, 0), 0.5)
        return (img * (1.0 - inside) + ground * inside).astype(np.float32)

    # ------------------------------------------------------------------
    # Clutter (unlabelled distractors)
    # ------------------------------------------------------------------
    def _add_clutter(self, rng: np.random.Generator,
                     img: np.ndarray) -> np.ndarray:
        height, width = self.img_size
        num_objects = rng.poisson(self.clutter_rate * self._area_scale)
        if num_objects == 0:
            return img
        # Thin and sharp-edged clutter is drawn here and slightly blurred.
        sharp = np.zeros(self.img_size, dtype=np.float32)
        for _ in range(num_objects):
            kind = rng.choice(3, p=[0.5, 0.3, 0.2])
            amplitude = float(rng.uniform(0.03, 0.25))
            row, col = rng.uniform(0, height), rng.uniform(0, width)
            if kind == 0:
                # Extended blob: the minor sigma alone makes it wider than
                # the largest target at the mask threshold.
                sigma_minor = rng.uniform(3.5, 7.0)
                sigma_major = sigma_minor * rng.uniform(1.0, 3.0)
                radius = int(3 * sigma_major) + 1
                r0, r1 = max(0,
                             int(row) - radius), min(height,
                                                     int(row) + radius)
                c0, c1 = max(0,
                             int(col) - radius), min(width,
                                                     int(col) + radius)
                if r0 >= r1 or c0 >= c1:
                    continue
                blob = _gaussian_profile(self._rows[r0:r1] - row,
                                         self._cols[:, c0:c1] - col,
                                         sigma_major, sigma_minor,
                                         rng.uniform(0, math.pi))
                img[r0:r1, c0:c1] += amplitude * blob
            elif kind == 1:
                # Thin line-like glint / wire, at least 12 px long.
                half_len = rng.uniform(6, 25)
                angle = rng.uniform(0, math.pi)
                d_col, d_row = half_len * math.cos(angle), half_len * \
                    math.sin(angle)
                cv2.line(sharp, (int(col - d_col), int(row - d_row)),
                         (int(col + d_col), int(row + d_row)), amplitude, 1)
            else:
                # Bright polygon with sharp corners (roof, mast, structure).
                num_vertices = int(rng.integers(3, 6))
                size = rng.uniform(8, 30)
                angles = np.sort(rng.uniform(0, 2 * math.pi, num_vertices))
                radii = size * rng.uniform(0.5, 1.0, num_vertices)
                points = np.stack([
                    col + radii * np.cos(angles), row + radii * np.sin(angles)
                ],
                                  axis=1).astype(np.int32)
                cv2.fillPoly(sharp, [points], amplitude * 0.6)
        return img + cv2.GaussianBlur(sharp, (0, 0), 0.6)

    # ------------------------------------------------------------------
    # Sensor effects
    # ------------------------------------------------------------------
    def _apply_sensor(self, rng: np.random.Generator,
                      img: np.ndarray) -> Tuple[np.ndarray, float]:
        """Contrast stretch, vignetting, fixed-pattern and Gaussian noise."""
        height, width = self.img_size
        low, high = float(img.min()), float(img.max())
        span = rng.uniform(0.25, 0.75)
        offset = rng.uniform(0.03, 0.95 - span)
        img = (img - low) * np.float32(span / max(high - low, 1e-6)) + offset
        img = img * (1.0 - rng.uniform(0.0, 0.35) * self._radius2)
        if rng.random() < 0.7:
            col_std, row_std = rng.uniform(0, 0.012), rng.uniform(0, 0.006)
            img = img + rng.normal(0, col_std, (1, width)).astype(np.float32)
            img = img + rng.normal(0, row_std, (height, 1)).astype(np.float32)
        noise_std = float(rng.uniform(*self.noise_std_range))
        img = img + np.float32(noise_std) * rng.standard_normal(
            self.img_size, dtype=np.float32)
        return img.astype(np.float32), noise_std

    # ------------------------------------------------------------------
    # Targets
    # ------------------------------------------------------------------
    def _target_profile(self, rng: np.random.Generator, size: int,
                        dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        """Un-normalised contribution of one target on a local grid."""
        # Sigma for which the Gaussian's mask_threshold level set spans
        # about `size` pixels.
        level_radius = math.sqrt(2.0 * math.log(1.0 / self.mask_threshold))
        sigma = max(0.3, size / (2.0 * level_radius))
        elongation = rng.uniform(1.0, 2.2) if size >= 3 else 1.0
        theta = rng.uniform(0, math.pi)
        profile = _gaussian_profile(dy, dx, sigma,
                                    max(0.3, sigma / elongation), theta)
        if size >= 3 and rng.random() < 0.4:
            # Irregular target: extra lobes close to the core.
            for _ in range(int(rng.integers(1, 3))):
                direction = rng.uniform(0, 2 * math.pi)
                offset = rng.uniform(0.3, 0.8) * sigma
                lobe_sigma = max(0.3,
                                 rng.uniform(0.5, 0.9) * sigma / elongation)
                profile = profile + rng.uniform(0.3, 0.8) * _gaussian_profile(
                    dy - offset * math.sin(direction), dx -
                    offset * math.cos(direction), lobe_sigma, lobe_sigma, 0.0)
        return profile

    def _fit_mask(self, profile: np.ndarray) -> np.ndarray:
        """Threshold ``profile`` (peak 1) so its extent is within range.

        Starts at ``mask_threshold`` and moves the fraction in steps of 0.05
        (within [0.1, 0.95]) while the larger bounding-box side of the mask
        is outside ``target_size_range``.
        """
        low, high = self.target_size_range

        def extent(mask: np.ndarray) -> int:
            rows, cols = np.nonzero(mask)
            return max(np.ptp(rows), np.ptp(cols)) + 1

        threshold = self.mask_threshold
        mask = profile >= threshold
        for _ in range(20):
            size = extent(mask)
            if size > high and threshold < 0.95:
                threshold = min(0.95, threshold + 0.05)
            elif size < low and threshold > 0.1:
                threshold = max(0.1, threshold - 0.05)
            else:
                break
            mask = profile >= threshold
        # Metrics count targets as connected components, so a target must be
        # exactly one 8-connected blob: keep the one holding the peak.
        _, labels = cv2.connectedComponents(
            mask.astype(np.uint8), connectivity=8)
        peak = np.unravel_index(np.argmax(profile), profile.shape)
        mask = labels == labels[peak]
        if extent(mask) > high:
            # Even 95 % of the peak is too wide (a very flat irregular blob):
            # keep only the peak pixel so the size bound always holds.
            mask = profile >= profile.max()
        return mask

    def _add_targets(self, rng: np.random.Generator, img: np.ndarray,
                     noise_std: float) -> Tuple[np.ndarray, np.ndarray, list]:
        height, width = self.img_size
        mask = np.zeros(self.img_size, dtype=np.uint8)
        targets: List[dict] = []
        if rng.random() < self.target_free_ratio:
            return img, mask, targets
        num_wanted = int(rng.integers(1, self.max_targets + 1))
        low, high = self.target_size_range
        half = high // 2 + 3  # local grid radius, large enough for the mask
        background = img.copy()
        for _ in range(num_wanted):
            size = int(rng.integers(low, high + 1))
            for _attempt in range(20):
                row = rng.uniform(2, height - 3)
                col = rng.uniform(2, width - 3)
                r0, r1 = max(0,
                             int(row) - half), min(height,
                                                   int(row) + half + 1)
                c0, c1 = max(0,
                             int(col) - half), min(width,
                                                   int(col) + half + 1)
                # Reject positions whose neighbourhood (1 px margin) already
                # holds a target, so targets never overlap or touch.
                if mask[max(0, r0 - 1):r1 + 1, max(0, c0 - 1):c1 + 1].any():
                    continue
                profile = self._target_profile(rng, size,
                                               self._rows[r0:r1] - row,
                                               self._cols[:, c0:c1] - col)
                profile = profile / profile.max()
                target_mask = self._fit_mask(profile)

                win = 8
                local = background[max(0,
                                       int(row) - win):int(row) + win + 1,
                                   max(0,
                                       int(col) - win):int(col) + win + 1]
                local_std = max(float(local.std()), noise_std, 1e-3)
                snr = math.exp(
                    rng.uniform(
                        math.log(self.snr_range[0]),
                        math.log(self.snr_range[1])))
                amplitude = min(snr * local_std, 0.7)
                img[r0:r1, c0:c1] += np.float32(amplitude) * profile
                mask[r0:r1, c0:c1] |= target_mask.astype(np.uint8)
                rows, cols = np.nonzero(target_mask)
                targets.append(
                    dict(
                        center=(row, col),
                        bbox=(r0 + int(rows.min()), c0 + int(cols.min()),
                              r0 + int(rows.max()) + 1,
                              c0 + int(cols.max()) + 1),
                        area=int(target_mask.sum()),
                        snr=snr,
                        amplitude=amplitude))
                break
        return img, mask, targets

    # ------------------------------------------------------------------
    def __call__(self, rng: np.random.Generator) -> dict:
        """Draw one frame.

        Returns:
            dict: ``img`` (float32, (H, W), [0, 1]), ``mask`` (uint8, (H, W),
            {0, 1}), ``num_targets`` (int), ``scene_type`` (str) and
            ``targets`` (list of dicts with ``center``, ``bbox`` as
            (top, left, bottom, right), ``area``, ``snr``, ``amplitude``).
        """
        scene_type = SCENE_TYPES[rng.choice(3, p=self.scene_probs)]
        img = self._sky(rng, cloudiness=0.4 if scene_type == 'sky' else 0.0)
        if scene_type == 'sea':
            img = self._add_sea(rng, img)
        elif scene_type == 'ground':
            img = self._add_ground(rng, img)
        img = self._add_clutter(rng, img)
        img, noise_std = self._apply_sensor(rng, img)
        img, mask, targets = self._add_targets(rng, img, noise_std)
        np.clip(img, 0.0, 1.0, out=img)
        return dict(
            img=img,
            mask=mask,
            num_targets=len(targets),
            scene_type=scene_type,
            targets=targets)
