"""Embedded medical data: procedural CT-like and MR-like phantoms with
exact label maps, the default data of VL-DUN's recipes.

Every sample is drawn from geometry first, contrast second, so the label
map is exact (the shapes that make the image are the labels):

- ``'head'`` anatomy: the modified Shepp–Logan phantom (Toft's ten
  ellipses, the table behind ``skimage.data.shepp_logan_phantom``) with
  every ellipse perturbed (axes ×0.85–1.15, centre ±0.03, angle ±10°),
  the whole head scaled 0.8–1.0, rotated ±15° and shifted;
- ``'torso'`` anatomy: an elliptic body with a wall, a large liver-like
  organ on one side and 1–3 smaller organs (kidney/spleen-like) at random.

Classes (``PHANTOM_CLASSES``):

====  ==========  =====================================================
0     background  air and unlabelled soft tissue (incl. Shepp–Logan's
                  small detail ellipses, which carry contrast but no label)
1     organ       Shepp–Logan's ventricles and central ellipse / torso
                  organs
2     wall        the skull (ring between the two outer ellipses) / the
                  body wall
3     lesion      1–3 star-shaped blobs (radius 2.5–11 % of the field of
                  view, random harmonics), inside organs or tissue, hypo-
                  or hyper-intense, at least 0.08 from every
                  region it covers or touches
====  ==========  =====================================================

Contrast by modality (intensities in [0, 1] as after windowing/scaling):
CT-like has dark air, bright bone, grey tissue and contrast-enhanced
organs; MR-like (T1-like) has a bright fat/scalp wall, dark fluid-filled
organs in the head, a smooth multiplicative bias field (0.85–1.15) and
weaker tissue texture. Both get fine smooth texture and a slight
partial-volume blur (σ 0.5 px) on the image only.

Each sample is degraded in the pipeline by its modality's k-space
undersampling (``KSpaceUndersample(modality='auto')``: radial for CT,
Cartesian for MRI). Sample ``i`` of split ``s`` uses
``np.random.default_rng([seed, SPLIT_STREAMS[s], i])``, its modality is
``modalities[i % len(modalities)]`` (balanced), and its ``img_id``
(``phantom/<split>/<i>``) seeds a fixed test mask.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from dunseg.physics.undersampling import check_modality
from dunseg.registry import DATASETS

from .istd import build_pipeline_with_dunseg_registry

PHANTOM_CLASSES = ('background', 'organ', 'wall', 'lesion')
ANATOMIES = ('head', 'torso')
SPLIT_STREAMS = dict(train=0, val=1, test=2)
DEFAULT_DATASET_NAMES = dict(CT='PhantomCT', MRI='PhantomMRI')

# Modified Shepp-Logan (Toft 1996): (a, b, x0, y0, angle in degrees).
SHEPP_LOGAN_ELLIPSES = (
    (0.69, 0.92, 0.0, 0.0, 0.0),  # 0 outer skull
    (0.6624, 0.874, 0.0, -0.0184, 0.0),  # 1 brain
    (0.11, 0.31, 0.22, 0.0, -18.0),  # 2 right ventricle
    (0.16, 0.41, -0.22, 0.0, 18.0),  # 3 left ventricle
    (0.21, 0.25, 0.0, 0.35, 0.0),  # 4 central ellipse
    (0.046, 0.046, 0.0, 0.1, 0.0),  # 5-9 small details
    (0.046, 0.046, 0.0, -0.1, 0.0),
    (0.046, 0.023, -0.08, -0.605, 0.0),
    (0.023, 0.023, 0.0, -0.606, 0.0),
    (0.023, 0.046, 0.06, -0.605, 0.0),
)
_HEAD_ORGANS = (2, 3, 4)
_HEAD_DETAILS = (5, 6, 7, 8, 9)


def _ellipse(xx: np.ndarray, yy: np.ndarray, a: float, b: float, x0: float,
             y0: float, angle_deg: float) -> np.ndarray:
    """Boolean inside-test of an ellipse on normalised coordinates."""
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    u = (xx - x0) * c + (yy - y0) * s
    v = -(xx - x0) * s + (yy - y0) * c
    return (u / a)**2 + (v / b)**2 <= 1.0


def _smooth_noise(rng: np.random.Generator, shape: Tuple[int, int],
                  cells: int) -> np.ndarray:
    """Zero-mean, unit-peak smooth random field (bicubic upsampled grid)."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    field = cv2.resize(grid, (shape[1], shape[0]),
                       interpolation=cv2.INTER_CUBIC)
    field -= field.mean()
    peak = np.abs(field).max()
    return field / peak if peak > 0 else field


def _star_blob(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float,
               radius: float, rng: np.random.Generator) -> np.ndarray:
    """A star-shaped lesion: ``r(θ) = radius·(1 + Σ a_k cos(kθ + φ_k))``
    with harmonics k = 2..4 (amplitudes up to 0.25 in all)."""
    theta = np.arctan2(yy - cy, xx - cx)
    dist = np.hypot(xx - cx, yy - cy)
    amps = 0.25 * rng.uniform() * rng.dirichlet(np.ones(3))
    phases = rng.uniform(0, 2 * math.pi, 3)
    boundary = np.ones_like(theta)
    for k, a, p in zip((2, 3, 4), amps, phases):
        boundary += a * np.cos(k * theta + p)
    return dist <= radius * boundary


class PhantomGenerator:
    """Draws one phantom: ``(image float32 (H, W) in [0, 1], labels uint8
    (H, W), anatomy)`` for a modality and a random generator.

    Args:
        img_size (tuple[int, int]): (H, W).
        anatomies (Sequence[str]): Drawn uniformly per sample.
        max_lesions (int): 1 .. max_lesions lesions per phantom (0 allowed
            with probability ``lesion_free_prob``).
        lesion_free_prob (float): Share of phantoms without lesion.
        lesion_radius (tuple[float, float]): Lesion radius range as a
            fraction of the half field of view (the image spans [-1, 1]).
    """

    def __init__(self,
                 img_size: Tuple[int, int] = (128, 128),
                 anatomies: Sequence[str] = ANATOMIES,
                 max_lesions: int = 3,
                 lesion_free_prob: float = 0.1,
                 lesion_radius: Tuple[float, float] = (0.05, 0.22)) -> None:
        unknown = [a for a in anatomies if a not in ANATOMIES]
        if unknown or not anatomies:
            raise ValueError(f'PhantomGenerator: anatomies must be a '
                             f'non-empty subset of {ANATOMIES}, got '
                             f'{tuple(anatomies)}')
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.anatomies = tuple(anatomies)
        self.max_lesions = int(max_lesions)
        self.lesion_free_prob = float(lesion_free_prob)
        self.lesion_radius = tuple(lesion_radius)
        h, w = self.img_size
        # y grows downwards, both axes in [-1, 1] (square pixels for
        # square images; a non-square field of view stretches anatomy).
        self.yy, self.xx = np.mgrid[-1:1:h * 1j, -1:1:w * 1j].astype(
            np.float32)

    # geometry ---------------------------------------------------------
    def _head(self, rng) -> Dict[str, object]:
        scale = rng.uniform(0.8, 1.0)
        rot = rng.uniform(-15, 15)
        shift = rng.uniform(-0.05, 0.05, 2)
        c, s = math.cos(math.radians(rot)), math.sin(math.radians(rot))
        params = []
        for a, b, x0, y0, ang in SHEPP_LOGAN_ELLIPSES:
            a *= rng.uniform(0.85, 1.15)
            b *= rng.uniform(0.85, 1.15)
            x0 += rng.uniform(-0.03, 0.03)
            y0 += rng.uniform(-0.03, 0.03)
            ang += rng.uniform(-10, 10)
            # global similarity transform
            gx = scale * (x0 * c - y0 * s) + shift[0]
            gy = scale * (x0 * s + y0 * c) + shift[1]
            params.append([scale * a, scale * b, gx, gy, ang + rot])
        # The skull is a ring of even thickness around the perturbed brain
        # (perturbing Shepp-Logan's outer ellipse on its own would let the
        # brain poke through it).
        thickness = scale * rng.uniform(0.03, 0.06)
        brain = params[1]
        params[0] = [brain[0] + thickness, brain[1] + thickness] + brain[2:]
        shapes = [_ellipse(self.xx, self.yy, *p) for p in params]
        outer, inner = shapes[0], shapes[1]
        organs = [shapes[i] & inner for i in _HEAD_ORGANS]
        details = [shapes[i] & inner for i in _HEAD_DETAILS]
        return dict(outer=outer, inner=inner, organs=organs, details=details)

    def _torso(self, rng) -> Dict[str, object]:
        a, b = rng.uniform(0.75, 0.92), rng.uniform(0.5, 0.7)
        x0, y0 = rng.uniform(-0.04, 0.04, 2)
        ang = rng.uniform(-8, 8)
        outer = _ellipse(self.xx, self.yy, a, b, x0, y0, ang)
        wall = rng.uniform(0.05, 0.09)
        inner = _ellipse(self.xx, self.yy, a - wall, b - wall, x0, y0, ang)
        side = rng.choice([-1.0, 1.0])
        organs = [
            _ellipse(self.xx, self.yy, rng.uniform(0.25, 0.38),
                     rng.uniform(0.2, 0.32),
                     x0 + side * rng.uniform(0.2, 0.35),
                     y0 + rng.uniform(-0.15, 0.05), rng.uniform(-30, 30))
            & inner
        ]
        for _ in range(int(rng.integers(1, 4))):
            organs.append(
                _ellipse(self.xx, self.yy, rng.uniform(0.07, 0.14),
                         rng.uniform(0.1, 0.18),
                         x0 - side * rng.uniform(0.1, 0.5),
                         y0 + rng.uniform(-0.3, 0.3), rng.uniform(-40, 40))
                & inner)
        # spine-like detail: a bright disc near the back, unlabelled
        details = [
            _ellipse(self.xx, self.yy, 0.07, 0.07, x0,
                     y0 + (b - wall) * rng.uniform(0.6, 0.75), 0) & inner
        ]
        return dict(outer=outer, inner=inner, organs=organs, details=details)

    def _lesions(self, rng, inner: np.ndarray,
                 organ_union: np.ndarray) -> List[np.ndarray]:
        if self.max_lesions < 1 or rng.uniform() < self.lesion_free_prob:
            return []
        h, w = self.img_size
        lesions = []
        # Lesion centres: in an organ with probability 0.6 (liver tumours,
        # periventricular lesions), else anywhere inside the body.
        margin = cv2.erode(inner.astype(np.uint8), np.ones((5, 5), np.uint8))
        for _ in range(int(rng.integers(1, self.max_lesions + 1))):
            region = organ_union & margin.astype(bool)
            if rng.uniform() >= 0.6 or not region.any():
                region = margin.astype(bool)
            ys, xs = np.nonzero(region)
            if len(ys) == 0:
                break
            k = int(rng.integers(len(ys)))
            cx = -1 + 2 * xs[k] / max(w - 1, 1)
            cy = -1 + 2 * ys[k] / max(h - 1, 1)
            radius = rng.uniform(*self.lesion_radius)
            blob = _star_blob(self.xx, self.yy, cx, cy, radius, rng) & inner
            if blob.any():
                lesions.append(blob)
        return lesions

    # contrast ---------------------------------------------------------
    @staticmethod
    def _levels(modality: str, anatomy: str, rng) -> Dict[str, float]:
        if modality == 'CT':
            tissue = rng.uniform(0.35, 0.45)
            return dict(air=0.0,
                        wall=rng.uniform(0.85, 1.0) if anatomy == 'head' else
                        rng.uniform(0.25, 0.32),
                        tissue=tissue,
                        organ=tissue + rng.uniform(0.08, 0.18),
                        detail=rng.uniform(0.75, 0.95)
                        if anatomy == 'torso' else tissue +
                        rng.choice([-1, 1]) * rng.uniform(0.04, 0.08),
                        texture=0.02)
        tissue = rng.uniform(0.45, 0.58)
        organ = (rng.uniform(0.08, 0.22) if anatomy == 'head' else
                 tissue + rng.choice([-1, 1]) * rng.uniform(0.12, 0.2))
        return dict(air=0.02,
                    wall=rng.uniform(0.7, 0.9),
                    tissue=tissue,
                    organ=organ,
                    detail=tissue + rng.choice([-1, 1]) *
                    rng.uniform(0.05, 0.1),
                    texture=0.012)

    @staticmethod
    def _lesion_level(image: np.ndarray, blob: np.ndarray,
                      rng: np.random.Generator) -> float:
        """A lesion intensity at least 0.08 away from every region the
        lesion covers or touches (the image is still piecewise constant
        here), hyper- or hypo-intense relative to what it replaces."""
        near = cv2.dilate(blob.astype(np.uint8), np.ones((5, 5), np.uint8))
        levels = np.unique(np.round(image[near.astype(bool)], 3))
        around = float(np.median(image[blob]))
        for _ in range(50):
            level = around + rng.uniform(0.08, 0.25) * rng.choice([-1., 1.])
            if 0.05 <= level <= 0.95 and np.abs(levels - level).min() >= 0.08:
                return level
        # crowded intensities: the middle of the widest free gap
        edges = np.concatenate([[0.05], np.sort(levels), [0.95]])
        gap = int(np.argmax(np.diff(edges)))
        return float((edges[gap] + edges[gap + 1]) / 2)

    def __call__(self, modality: str, rng: np.random.Generator
                 ) -> Tuple[np.ndarray, np.ndarray, str]:
        modality = check_modality(modality, 'PhantomGenerator')
        anatomy = self.anatomies[int(rng.integers(len(self.anatomies)))]
        geo = self._head(rng) if anatomy == 'head' else self._torso(rng)
        lv = self._levels(modality, anatomy, rng)
        h, w = self.img_size
        image = np.full((h, w), lv['air'], np.float32)
        labels = np.zeros((h, w), np.uint8)
        image[geo['outer']] = lv['wall']
        labels[geo['outer'] & ~geo['inner']] = 2
        image[geo['inner']] = lv['tissue']
        organ_union = np.zeros((h, w), bool)
        for organ in geo['organs']:
            level = lv['organ'] + rng.uniform(-0.03, 0.03)
            image[organ] = level
            labels[organ] = 1
            organ_union |= organ
        for detail in geo['details']:
            image[detail & ~organ_union] = lv['detail'] + rng.uniform(
                -0.02, 0.02)
        for blob in self._lesions(rng, geo['inner'], organ_union):
            image[blob] = self._lesion_level(image, blob, rng)
            labels[blob] = 3
        body = geo['outer']
        image += lv['texture'] * _smooth_noise(rng, (h, w),
                                               max(4, h // 8)) * body
        if modality == 'MRI':
            bias = 1.0 + 0.15 * _smooth_noise(rng, (h, w), 3)
            image *= bias
        image = cv2.GaussianBlur(image, (0, 0), 0.5)
        return np.clip(image, 0.0, 1.0).astype(np.float32), labels, anatomy


@DATASETS.register_module()
class SyntheticPhantomDataset(BaseDataset):
    """Embedded CT/MRI phantom slices with exact label maps (see the module
    docstring for anatomy, classes and contrast).

    Results given to the pipeline: ``gt_img`` (float32 (H, W) in [0, 1]),
    ``gt_seg_map`` (uint8 (H, W), classes of ``PHANTOM_CLASSES``),
    ``modality``, ``dataset_name`` (``PhantomCT`` / ``PhantomMRI`` by
    default, one per modality, as VL-DUN's modality prior has one class per
    dataset), ``num_classes`` (4), ``classes``, ``anatomy``, ``img_id``,
    ``img_path`` (``phantom://<split>/<i>``), ``img_shape``, ``ori_shape``.
    The pipeline degrades and packs them, e.g.
    ``[KSpaceUndersample(seed=0), PackMedicalInputs()]``.

    Args:
        num_samples (int): Length of the dataset.
        img_size (int | tuple[int, int]): (H, W) of the slices.
        modalities (Sequence[str]): ``'CT'`` and/or ``'MRI'``; sample ``i``
            has ``modalities[i % len]``.
        anatomies (Sequence[str]): ``'head'`` and/or ``'torso'``.
        seed (int): Base seed.
        split (str): ``'train'``, ``'val'`` or ``'test'`` (independent
            random streams).
        max_lesions (int), lesion_free_prob (float), lesion_radius (tuple):
            See :class:`PhantomGenerator`.
        dataset_names (dict, optional): Modality -> dataset name.
        pipeline (Sequence): Transforms, built with dunseg's registry.
    """

    METAINFO = dict(classes=PHANTOM_CLASSES,
                    palette=[[0, 0, 0], [0, 200, 0], [60, 120, 255],
                             [255, 60, 60]])

    def __init__(self,
                 num_samples: int = 1000,
                 img_size=(128, 128),
                 modalities: Sequence[str] = ('CT', 'MRI'),
                 anatomies: Sequence[str] = ANATOMIES,
                 seed: int = 0,
                 split: str = 'train',
                 max_lesions: int = 3,
                 lesion_free_prob: float = 0.1,
                 lesion_radius: Tuple[float, float] = (0.05, 0.22),
                 dataset_names: Optional[Dict[str, str]] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        name = type(self).__name__
        if split not in SPLIT_STREAMS:
            raise ValueError(f'{name}: split must be one of '
                             f'{tuple(SPLIT_STREAMS)}, got {split!r}')
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f'{name}: num_samples must be a positive int, '
                             f'got {num_samples!r}')
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        if len(img_size) != 2 or min(img_size) < 16:
            raise ValueError(f'{name}: img_size must be (H, W) >= 16, got '
                             f'{img_size!r}')
        if not modalities:
            raise ValueError(f'{name}: modalities must not be empty')
        self.modalities = tuple(check_modality(m, name) for m in modalities)
        self.num_samples = num_samples
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.seed = int(seed)
        self.split = split
        self.dataset_names = dict(DEFAULT_DATASET_NAMES,
                                  **(dataset_names or {}))
        self.generator = PhantomGenerator(self.img_size, anatomies,
                                          max_lesions, lesion_free_prob,
                                          lesion_radius)
        super().__init__(
            pipeline=build_pipeline_with_dunseg_registry(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(phantom_index=i) for i in range(self.num_samples)]

    def generate(self, index: int) -> dict:
        """Clean slice and labels of sample ``index`` (deterministic)."""
        rng = np.random.default_rng(
            [self.seed, SPLIT_STREAMS[self.split], int(index)])
        modality = self.modalities[index % len(self.modalities)]
        image, labels, anatomy = self.generator(modality, rng)
        return dict(gt_img=image, gt_seg_map=labels, modality=modality,
                    anatomy=anatomy,
                    dataset_name=self.dataset_names[modality])

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        index = info['phantom_index']
        info.update(self.generate(index))
        info.update(img_path=f'phantom://{self.split}/{index}',
                    img_id=f'phantom/{self.split}/{index}',
                    seg_map_path=None,
                    num_classes=len(PHANTOM_CLASSES),
                    classes=PHANTOM_CLASSES,
                    img_shape=self.img_size,
                    ori_shape=self.img_size)
        return info


__all__ = [
    'SyntheticPhantomDataset', 'PhantomGenerator', 'PHANTOM_CLASSES',
    'ANATOMIES', 'SHEPP_LOGAN_ELLIPSES'
]
