"""Embedded all-in-one restoration data: clean crops degraded on the fly.

Clean images are random crops of the photographs that ship inside the
scikit-image wheel (``skimage.data``: astronaut, coffee, chelsea, retina,
motorcycle, camera, moon, coins, brick, grass, gravel, cell, text;
grey ones colourised, see below) and of
procedural textures (smooth colour fields, stripes, rotated
checkerboards, dead-leaves discs). Each sample is then degraded with one
model of :mod:`dunseg.physics.synthesizers` (Gaussian noise σ 15/25/50,
haze, rain, blur through :class:`dunseg.physics.Blur`, low light, JPEG).

Determinism and splits: sample ``i`` of split ``s`` uses
``np.random.default_rng([seed, SPLIT_STREAMS[s], i])``; its degradation is
``degradations[i % len(degradations)]`` (balanced classes). Train and test
also use disjoint image regions: along each photograph's longer axis the
last ``test_fraction`` is reserved for the test split, so test crops never
share pixels with training crops.

Clean crops must not look degraded themselves, or the degradation label
becomes ambiguous. Grey photographs are therefore colourised (a random
duotone modulated by a smooth colour field, :func:`colourise_grey`): a
grey, desaturated crop is what haze looks like, and a tiny CLIP tuned with
grey sources took 15 % of the blurred crops (text, page, camera) for hazy
ones, after which the restorer "dehazed" them and lost 11 dB. For the
same reason four photographs are not default sources: the near-black
Hubble deep field (mean 0.08) and the dark rocket (0.26) read as low
light, the pale immunohistochemistry slide (0.63) and the scanned book
page (0.67) as haze. Colourised, the page was still the one source the
tuned tiny CLIP misread (75 % of its crops recognised, 89-100 % for every
other photograph), and a blurred page taken for haze lost 9.7 dB. The real
training sets (BSD400, WED, RESIDE, GoPro, LOL) are colour photographs too.

Blur is applied to the scene around a crop, not to the crop alone: the
clean crop is drawn larger by the kernel radius, blurred, and both images
are cut back to size (``blur_context``). Blurring the crop by itself, with
circular padding, mixes the pixels near a border with the opposite border;
with 11 px kernels that band is up to 29 % of a 64 px crop, and no restorer
can undo it.

Multi-scale crops (``crop_sides``, off by default): a prior sees a
full-size photograph only after it is resized to the CLIP input, which
changes what a degradation looks like (noise averages out, a blur kernel
shrinks). With ``crop_sides=(low, high)`` a crop of side drawn
log-uniformly in [low, high] source pixels (at most the photograph's band)
is degraded at its own size and only then resized to ``img_size`` with
the prior's own resampling (antialiased bicubic, as
:class:`dunseg.models.priors.clip_builder.CLIPImagePreprocess`), so that
training crops reach the prior as a full-size image does.
"""
import threading
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import BaseDataset

from dunseg.physics.synthesizers import (
    DEFAULT_BLUR_SIZE,
    SYNTHESIZABLE,
    synthesize,
)
from dunseg.registry import DATASETS

from .degradation_types import DEGRADATIONS_5TASK, degradation_label
from .istd import build_pipeline_with_dunseg_registry

SKIMAGE_SOURCES = ('astronaut', 'coffee', 'chelsea', 'retina',
                   'stereo_motorcycle', 'camera', 'moon', 'coins', 'brick',
                   'grass', 'gravel', 'cell', 'text')
TEXTURES = ('smooth', 'stripes', 'checker', 'dead_leaves')
SPLIT_STREAMS = dict(train=0, test=1)

MATPLOTLIB_PREFIX = 'matplotlib:'

_SOURCES: Dict[str, np.ndarray] = {}
_LOCK = threading.Lock()


def _matplotlib_sample(filename: str) -> np.ndarray:
    """An image from matplotlib's bundled sample data (no download)."""
    import matplotlib.cbook
    import matplotlib.image
    with matplotlib.cbook.get_sample_data(filename) as handle:
        return matplotlib.image.imread(handle, format=filename.rsplit(
            '.', 1)[-1])


def load_skimage_sources(
        names: Sequence[str] = SKIMAGE_SOURCES) -> Dict[str, np.ndarray]:
    """The shipped ``skimage.data`` images as RGB float32 in [0, 1].

    A name ``'matplotlib:FILE'`` loads ``FILE`` from matplotlib's sample
    data instead (``grace_hopper.jpg`` is the one photograph matplotlib
    ships). Loaded once per process. Raises a RuntimeError naming the image
    when scikit-image would need to download it (only shipped images are
    listed by default).
    """
    import skimage.data
    with _LOCK:
        for name in names:
            if name in _SOURCES:
                continue
            try:
                if name.startswith(MATPLOTLIB_PREFIX):
                    img = _matplotlib_sample(name[len(MATPLOTLIB_PREFIX):])
                else:
                    img = getattr(skimage.data, name)()
            except Exception as err:  # pooch download or missing module
                raise RuntimeError(
                    f'photograph {name!r} is not available offline '
                    f'({type(err).__name__}: {err}); remove it from the '
                    'dataset\'s sources') from err
            if isinstance(img, tuple):  # stereo_motorcycle: (left, right, d)
                img = img[0]
            img = np.asarray(img)
            if img.dtype == bool:
                img = img.astype(np.uint8) * 255
            if img.dtype == np.uint8:
                img = img.astype(np.float32) / 255.0
            img = img.astype(np.float32)
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            _SOURCES[name] = np.ascontiguousarray(img[..., :3])
    return {n: _SOURCES[n] for n in names}


def _smooth_field(rng,
                  h,
                  w,
                  channels=3,
                  octaves=3,
                  base=2,
                  persistence=0.5) -> np.ndarray:
    out = np.zeros((h, w, channels), np.float32)
    amp = 1.0
    for o in range(octaves):
        cells = base * 2**o
        grid = rng.standard_normal((cells, cells, channels)).astype(np.float32)
        up = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        out += np.float32(amp) * up.reshape(h, w, channels)
        amp *= persistence
    out -= out.min()
    peak = out.max()
    return out / peak if peak > 0 else out


def is_grey(img: np.ndarray) -> bool:
    """True when the three channels of an (H, W, 3) image are equal."""
    return bool(np.array_equal(img[..., 0], img[..., 1])
                and np.array_equal(img[..., 0], img[..., 2]))


def colourise_grey(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour version of a grey (H, W, 3) crop, same structure.

    Intensities map linearly from a random dark colour (each channel in
    [0, 0.35]) to a random light one ([0.65, 1]), a duotone, and the result
    is multiplied by a smooth colour field in [0.85, 1.15] so that the tint
    varies across the crop as lighting does.
    """
    h, w = grey.shape[:2]
    dark = rng.uniform(0.0, 0.35, 3).astype(np.float32)
    light = rng.uniform(0.65, 1.0, 3).astype(np.float32)
    img = dark + (light - dark) * grey[..., :1]
    img = img * (0.85 + 0.3 * _smooth_field(rng, h, w, octaves=2))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def procedural_texture(rng: np.random.Generator,
                       size: Tuple[int, int],
                       kind: Optional[str] = None) -> Tuple[np.ndarray, str]:
    """A random colour texture (H, W, 3) in [0, 1] and its kind."""
    h, w = size
    kind = kind or TEXTURES[int(rng.integers(len(TEXTURES)))]
    c1, c2 = rng.uniform(0.05, 0.95, (2, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 'smooth':
        img = _smooth_field(rng,
                            h,
                            w,
                            octaves=5,
                            base=int(rng.integers(2, 5)),
                            persistence=0.7)
        img = 0.1 + 0.8 * img
    elif kind in ('stripes', 'checker'):
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(4.0, max(6.0, min(h, w) / 3))
        u = xx * np.cos(theta) + yy * np.sin(theta)
        v = -xx * np.sin(theta) + yy * np.cos(theta)
        if kind == 'stripes':
            wave = 0.5 + 0.5 * np.sin(2 * np.pi * u / period)
            if rng.uniform() < 0.5:  # square wave with soft edges
                wave = np.clip((wave - 0.5) * 6 + 0.5, 0, 1)
        else:
            wave = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(
                np.float32)
        img = c1 * wave[..., None] + c2 * (1 - wave[..., None])
        img = img * (0.8 + 0.4 * _smooth_field(rng, h, w, octaves=2))
    elif kind == 'dead_leaves':
        img = np.empty((h, w, 3), np.float32)
        img[:] = c1
        r_max = max(3.0, min(h, w) / 3)
        for _ in range(int(rng.integers(20, 60))):
            r = r_max * rng.uniform(0.05, 1.0)**2 + 1
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            colour = tuple(float(c) for c in rng.uniform(0.0, 1.0, 3))
            cv2.circle(img, centre, int(r), colour, -1, cv2.LINE_AA)
    else:
        raise ValueError(f'procedural_texture: kind must be one of '
                         f'{TEXTURES}, got {kind!r}')
    return np.clip(img, 0.0, 1.0).astype(np.float32), kind


def resize_like_clip_input(img: np.ndarray,
                           size: Tuple[int, int]) -> np.ndarray:
    """An (H, W, 3) image resized to ``size`` = (h, w) the way a CLIP prior
    resamples its input: antialiased bicubic (``F.interpolate``), clipped
    to [0, 1]."""
    if img.shape[:2] == tuple(size):
        return img
    x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    # one small image: intra-op threads only add contention on shared
    # cores (as in dunseg.physics.synthesizers.blur_image)
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        y = F.interpolate(x.permute(2, 0, 1)[None], size=tuple(size),
                          mode='bicubic', align_corners=False,
                          antialias=True)
    finally:
        torch.set_num_threads(num_threads)
    y = y[0].permute(1, 2, 0).numpy()
    return np.clip(y, 0.0, 1.0).astype(np.float32)


@DATASETS.register_module()
class SyntheticDegradationDataset(BaseDataset):
    """Embedded all-in-one restoration dataset generated on the fly.

    Results given to the pipeline: ``img`` (degraded) and ``gt_img`` (clean),
    float32 (H, W, 3) in [0, 1]; ``degradation``, ``degradation_label``,
    ``img_path`` (``'synthetic://<split>/<idx>'``), ``gt_path`` (None),
    ``source`` (skimage image name or ``'texture:<kind>'``),
    ``dataset_name`` (``'synthetic'``), ``img_shape``, ``ori_shape``,
    ``sample_idx``. The pipeline starts after loading, e.g.
    ``[PairedRandomFlipRot, PackRestorationInputs]``.

    Args:
        num_samples (int): Length of the dataset.
        img_size (int | tuple[int, int]): (H, W) of the crops.
        degradations (Sequence[str]): Degradation names (from
            ``DEGRADATIONS_5TASK`` plus ``'jpeg'``); sample ``i`` gets
            ``degradations[i % len]``.
        degradation_classes (Sequence[str], optional): Label vocabulary
            (``metainfo['degradation_classes']``); defaults to
            ``degradations``.
        seed (int): Base seed.
        split (str): ``'train'`` or ``'test'``.
        texture_prob (float): Probability that a clean crop is a procedural
            texture instead of a photograph.
        scale_range (tuple[float, float]): Crops cover
            ``img_size / scale`` source pixels, resized to ``img_size``.
        test_fraction (float): Share of each photograph's longer axis
            reserved for the test split.
        min_detail (float): Photo crops whose mean absolute gradient is
            below this are redrawn (up to 10 times) so that every
            degradation, blur included, visibly changes the crop.
        sources (Sequence[str]): ``skimage.data`` image names.
        colourise (bool): Colourise crops of grey sources
            (:func:`colourise_grey`); False keeps them grey.
        blur_context (bool): Blur a crop enlarged by the kernel radius and
            cut the margin off, so that border pixels mix the scene around
            them as in a blurred photograph (see the module docstring).
            False blurs the crop alone, with the synthesizer's padding.
        degradation_params (dict, optional): Per-degradation overrides for
            :func:`dunseg.physics.synthesize`.
        crop_sides (tuple[int, int], optional): Multi-scale crops (see the
            module docstring): the crop's shorter side in source pixels is
            drawn log-uniformly in ``[low, high]`` (capped by the
            photograph's band), the crop is degraded at that size and then
            resized to ``img_size`` with :func:`resize_like_clip_input`.
            Textures are drawn at the same size. ``scale_range`` is unused
            then. None (default) keeps crops resized before degradation.
        pipeline (Sequence): Transforms, built with dunseg's registry.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(degradation_classes=DEGRADATIONS_5TASK)

    def __init__(self,
                 num_samples: int = 1400,
                 img_size=(64, 64),
                 degradations: Sequence[str] = DEGRADATIONS_5TASK,
                 degradation_classes: Optional[Sequence[str]] = None,
                 seed: int = 0,
                 split: str = 'train',
                 texture_prob: float = 0.3,
                 scale_range: Tuple[float, float] = (0.5, 1.0),
                 test_fraction: float = 0.3,
                 min_detail: float = 0.015,
                 sources: Sequence[str] = SKIMAGE_SOURCES,
                 colourise: bool = True,
                 blur_context: bool = True,
                 degradation_params: Optional[dict] = None,
                 crop_sides: Optional[Tuple[int, int]] = None,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
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
        if len(img_size) != 2 or min(img_size) < 8:
            raise ValueError(f'{name}: img_size must be (H, W) >= 8, got '
                             f'{img_size!r}')
        degradations = tuple(degradations)
        unknown = [d for d in degradations if d not in SYNTHESIZABLE]
        if unknown or not degradations:
            raise ValueError(f'{name}: degradations must be a non-empty '
                             f'subset of {SYNTHESIZABLE}, got unknown '
                             f'{unknown}')
        classes = tuple(degradation_classes or degradations)
        for d in degradations:
            degradation_label(d, classes)  # raises for unknown names
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f'{name}: test_fraction must be in (0, 1), got '
                             f'{test_fraction}')
        if not 0.0 <= texture_prob <= 1.0:
            raise ValueError(f'{name}: texture_prob must be in [0, 1], got '
                             f'{texture_prob}')
        self.num_samples = num_samples
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.degradations = degradations
        self.classes = classes
        self.seed = int(seed)
        self.split = split
        self.texture_prob = float(texture_prob)
        self.scale_range = tuple(scale_range)
        self.test_fraction = float(test_fraction)
        self.min_detail = float(min_detail)
        self.source_names = tuple(sources)
        self.colourise = bool(colourise)
        self.blur_context = bool(blur_context)
        self.degradation_params = degradation_params or {}
        if crop_sides is not None:
            if len(crop_sides) != 2 or not (
                    8 <= crop_sides[0] <= crop_sides[1]):
                raise ValueError(f'{name}: crop_sides must be (low, high) '
                                 f'source pixels with 8 <= low <= high, got '
                                 f'{crop_sides!r}; None turns multi-scale '
                                 'crops off')
            crop_sides = (int(crop_sides[0]), int(crop_sides[1]))
        self.crop_sides = crop_sides
        if not self.source_names and self.texture_prob < 1.0:
            raise ValueError(f'{name}: no sources given; set '
                             'texture_prob=1.0 for textures only')
        metainfo = dict(metainfo or {})
        metainfo['degradation_classes'] = classes
        super().__init__(
            metainfo=metainfo,
            pipeline=build_pipeline_with_dunseg_registry(pipeline),
            **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(synthetic_index=i) for i in range(self.num_samples)]

    # ------------------------------------------------------------------
    def _region(self, img: np.ndarray) -> np.ndarray:
        """This split's part of a photograph (disjoint train/test bands)."""
        h, w = img.shape[:2]
        axis = 1 if w >= h else 0
        length = img.shape[axis]
        cut = int(round(length * (1.0 - self.test_fraction)))
        sl = slice(0, cut) if self.split == 'train' else slice(cut, length)
        return img[:, sl] if axis == 1 else img[sl]

    def _photo_crop(self, rng: np.random.Generator,
                    size: Tuple[int, int]) -> Tuple[np.ndarray, str]:
        sources = load_skimage_sources(self.source_names)
        h, w = size
        for _ in range(10):
            name = self.source_names[int(rng.integers(len(self.source_names)))]
            region = self._region(sources[name])
            rh, rw = region.shape[:2]
            scale = rng.uniform(*self.scale_range)
            sh = int(min(rh, max(4, round(h / scale))))
            sw = int(min(rw, max(4, round(w / scale))))
            top = int(rng.integers(0, rh - sh + 1))
            left = int(rng.integers(0, rw - sw + 1))
            crop = region[top:top + sh, left:left + sw]
            if crop.shape[:2] != (h, w):
                crop = cv2.resize(crop, (w, h),
                                  interpolation=cv2.INTER_AREA
                                  if sh > h else cv2.INTER_CUBIC)
            # Skip nearly flat crops (sky, the retina's black border):
            # mean absolute gradient below min_detail.
            detail = (np.abs(np.diff(crop, axis=0)).mean() +
                      np.abs(np.diff(crop, axis=1)).mean()) / 2
            if detail >= self.min_detail:
                break
        if rng.uniform() < 0.5:
            crop = crop[:, ::-1]
        if self.colourise and is_grey(crop):
            crop = colourise_grey(crop, rng)
        return np.clip(crop, 0.0, 1.0).astype(np.float32), name

    def _crop_shape(self, rng: np.random.Generator,
                    fit: Tuple[int, int]) -> Tuple[int, int]:
        """A multi-scale crop's (h, w): shorter side log-uniform in
        ``crop_sides``, aspect of ``img_size``, fitting in ``fit``."""
        h, w = self.img_size
        low, high = self.crop_sides
        side = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        scale = min(side / min(h, w), fit[0] / h, fit[1] / w)
        return max(8, int(round(h * scale))), max(8, int(round(w * scale)))

    def _multiscale_clean(self, rng: np.random.Generator,
                          margin: int) -> Tuple[np.ndarray, str]:
        """A clean crop at its own (multi-scale) size plus ``margin``."""
        if rng.uniform() < self.texture_prob:
            sh, sw = self._crop_shape(rng, (4096, 4096))
            img, kind = procedural_texture(rng,
                                           (sh + 2 * margin, sw + 2 * margin))
            return img, f'texture:{kind}'
        sources = load_skimage_sources(self.source_names)
        for _ in range(10):
            name = self.source_names[int(rng.integers(len(self.source_names)))]
            region = self._region(sources[name])
            rh, rw = region.shape[:2]
            sh, sw = self._crop_shape(rng, (rh - 2 * margin, rw - 2 * margin))
            sh, sw = sh + 2 * margin, sw + 2 * margin
            top = int(rng.integers(0, rh - sh + 1))
            left = int(rng.integers(0, rw - sw + 1))
            crop = region[top:top + sh, left:left + sw]
            # the detail test sees what the prior sees: the resized crop
            small = resize_like_clip_input(crop, self.img_size)
            detail = (np.abs(np.diff(small, axis=0)).mean() +
                      np.abs(np.diff(small, axis=1)).mean()) / 2
            if detail >= self.min_detail:
                break
        if rng.uniform() < 0.5:
            crop = crop[:, ::-1]
        if self.colourise and is_grey(crop):
            crop = colourise_grey(crop, rng)
        return np.clip(crop, 0.0, 1.0).astype(np.float32), name

    def clean_image(self,
                    rng: np.random.Generator,
                    margin: int = 0) -> Tuple[np.ndarray, str]:
        """Draw one clean (H + 2·margin, W + 2·margin, 3) image and its
        source name."""
        size = (self.img_size[0] + 2 * margin, self.img_size[1] + 2 * margin)
        if rng.uniform() < self.texture_prob:
            img, kind = procedural_texture(rng, size)
            return img, f'texture:{kind}'
        return self._photo_crop(rng, size)

    def context_margin(self, degradation: str) -> int:
        """Pixels of scene a degradation needs around the crop: the blur
        kernel's radius with ``blur_context``, else 0."""
        if degradation != 'deblur' or not self.blur_context:
            return 0
        params = self.degradation_params.get('deblur', {})
        kernel = params.get('kernel')
        if kernel is not None:
            return max(np.shape(kernel)[:2]) // 2
        return int(params.get('size', DEFAULT_BLUR_SIZE)) // 2

    def generate(self, index: int) -> dict:
        """Clean and degraded images of sample ``index`` (deterministic)."""
        rng = np.random.default_rng(
            [self.seed, SPLIT_STREAMS[self.split],
             int(index)])
        degradation = self.degradations[index % len(self.degradations)]
        margin = self.context_margin(degradation)
        if self.crop_sides is None:
            clean, source = self.clean_image(rng, margin)
        else:
            clean, source = self._multiscale_clean(rng, margin)
        degraded = synthesize(clean, degradation, rng, self.degradation_params)
        if margin:
            inner = (slice(margin, clean.shape[0] - margin),
                     slice(margin, clean.shape[1] - margin))
            clean, degraded = clean[inner], degraded[inner]
        if self.crop_sides is not None:
            clean = resize_like_clip_input(clean, self.img_size)
            degraded = resize_like_clip_input(degraded, self.img_size)
        return dict(img=np.ascontiguousarray(degraded, dtype=np.float32),
                    gt_img=np.ascontiguousarray(clean, dtype=np.float32),
                    degradation=degradation,
                    degradation_label=degradation_label(
                        degradation, self.classes),
                    source=source)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        index = info['synthetic_index']
        info.update(self.generate(index))
        info.update(img_path=f'synthetic://{self.split}/{index}',
                    gt_path=None,
                    dataset_name='synthetic',
                    img_shape=self.img_size,
                    ori_shape=self.img_size)
        return info


__all__ = [
    'SyntheticDegradationDataset', 'load_skimage_sources', 'colourise_grey',
    'is_grey',
    'procedural_texture', 'resize_like_clip_input', 'SKIMAGE_SOURCES',
    'TEXTURES'
]
