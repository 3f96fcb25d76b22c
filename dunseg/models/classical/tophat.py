"""Training-free infrared small target detectors (classical baselines).

Both detectors are parameter-free :class:`mmengine.model.BaseModel` s, so a
classical method runs through exactly the same ``tools/test.py`` +
``ISTDMetric`` path as the learned models:

.. code-block:: python

    model = dict(type='TopHatDetector', radius=5, k=8.0)
    test_evaluator = dict(type='ISTDMetric')

Every operation is a max/min/average pooling or a shift, so a batch is
processed at once, on any device, in milliseconds. The scores are invariant
to positive affine intensity changes (the responses are shift-invariant and
scale linearly, and the score is standardised per image), so the detectors
work unchanged behind a normalising data preprocessor.

Turning a background-suppressed response into a score
-----------------------------------------------------
``ISTDMetric`` (like RPCANet's evaluation) divides each score map by its
maximum and keeps ``> 0.5``. A raw response would therefore always yield
"the pixels above half of the strongest peak", however weak that peak is
relative to the clutter. Instead the response is mapped through
:func:`adaptive_contrast_score`::

    score = clamp((response - mean) / (k * std), 0, 1)

with the per-image mean and standard deviation of the response. After the
metric's normalisation a pixel is positive iff

- ``response > mean + (k / 2) * std`` when the strongest response reaches
  ``mean + k * std`` (the usual ``mu + lambda * sigma`` adaptive threshold
  of top-hat / MPCM papers, with ``lambda = k / 2``), or
- it lies above halfway between the mean and the peak otherwise, so the
  strongest local peak of an image is always reported (ISTD test images
  almost always contain a target; this costs false alarms on target-free
  images, which is the price every max-normalised method pays).

The default ``k = 8`` puts that threshold at ``mean + 4 std`` (a ~3e-5 tail
were the response Gaussian), so noise alone causes false alarms of the order
of 1e-5 rather than the 1e-3 a ``mean + 2 std`` rule would give.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData

from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

FOOTPRINTS = ('disk', 'square')
# One direction of each of MPCM's 4 pairs of opposite neighbour cells.
OPPOSITE_DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1))

OptConfigOrModule = Optional[Union[dict, torch.nn.Module]]


def _disk_offsets(radius: int) -> List[Tuple[int, int]]:
    """The (dy, dx) offsets of a digital disk of ``radius`` pixels."""
    return [(dy, dx) for dy in range(-radius, radius + 1)
            for dx in range(-radius, radius + 1)
            if dy * dy + dx * dx <= radius * radius]


def _shifted_window(padded: torch.Tensor, pad: int, dy: int, dx: int,
                    height: int, width: int) -> torch.Tensor:
    """The (height, width) window of a map padded by ``pad`` on each side,
    shifted by (dy, dx): ``result[y, x] = original[y + dy, x + dx]``."""
    return padded[..., pad + dy:pad + dy + height, pad + dx:pad + dx + width]


def grey_dilation(images: torch.Tensor,
                  radius: int,
                  footprint: str = 'disk') -> torch.Tensor:
    """Grey-level dilation (local maximum) of a (N, C, H, W) batch.

    Pixels outside the image are ignored (treated as -inf), so the border is
    not darkened or brightened artificially.

    Args:
        images (torch.Tensor): (N, C, H, W) float images.
        radius (int): half-size of the structuring element; 0 is identity.
        footprint (str): ``'square'`` ((2r+1)^2 window, one max pooling) or
            ``'disk'`` (Euclidean disk, isotropic; a running maximum over the
            disk's shifts). Defaults to ``'disk'``.

    Returns:
        torch.Tensor: the dilated batch, same shape as ``images``.
    """
    if footprint not in FOOTPRINTS:
        raise ValueError(f'footprint must be one of {FOOTPRINTS}, got '
                         f'{footprint!r}')
    if radius <= 0:
        return images
    if footprint == 'square':
        # max_pool2d pads implicitly with -inf.
        return F.max_pool2d(
            images, kernel_size=2 * radius + 1, stride=1, padding=radius)
    height, width = images.shape[-2:]
    padded = F.pad(images, [radius] * 4, value=float('-inf'))
    dilated = None
    for dy, dx in _disk_offsets(radius):
        shifted = _shifted_window(padded, radius, dy, dx, height, width)
        dilated = shifted if dilated is None else torch.maximum(
            dilated, shifted)
    return dilated


def grey_erosion(images: torch.Tensor,
                 radius: int,
                 footprint: str = 'disk') -> torch.Tensor:
    """Grey-level erosion (local minimum): ``-dilation(-images)``."""
    return -grey_dilation(-images, radius, footprint)


def white_top_hat(images: torch.Tensor,
                  radius: int,
                  footprint: str = 'disk') -> torch.Tensor:
    """White top-hat ``images - opening(images)``.

    The opening (erosion then dilation) removes every bright structure into
    which the structuring element does not fit and keeps the rest, so the
    top-hat keeps small bright details (targets) and suppresses background
    and bright structures larger than the element (clouds, buildings).
    """
    opened = grey_dilation(
        grey_erosion(images, radius, footprint), radius, footprint)
    return images - opened


def multiscale_patch_contrast(images: torch.Tensor,
                              scales: Sequence[int] = (3, 5, 7, 9)
                              ) -> torch.Tensor:
    """Multiscale patch-based contrast (MPCM, Wei et al., PR 2016).

    At scale ``L`` the image is averaged over L x L cells; a pixel's cell is
    compared with the 8 surrounding cells at offsets ``{-L, 0, L}^2``:
    ``d_i = m_center - m_i``. A bright target is brighter than its
    surroundings in *every* direction, so for each of the 4 pairs of
    opposite neighbours the contrast is ``sqrt(relu(d_i) * relu(d_j))`` and
    the pixel's contrast is the minimum over the pairs: an edge or a ridge
    (bright on one side only) gets 0. The geometric mean (instead of MPCM's
    plain product) keeps the response in intensity units so that the same
    ``k`` of :func:`adaptive_contrast_score` suits both detectors. Only
    bright targets are detected (the product of two negative differences,
    i.e. dark targets, is discarded by the ``relu``). The final response is
    the maximum over scales.

    Args:
        images (torch.Tensor): (N, C, H, W) float images.
        scales (Sequence[int]): odd cell sizes; cover the target sizes.

    Returns:
        torch.Tensor: (N, C, H, W) non-negative contrast.
    """
    height, width = images.shape[-2:]
    response = torch.zeros_like(images)
    for cell in scales:
        if cell < 1 or cell % 2 == 0:
            raise ValueError(f'MPCM cell sizes must be odd and positive, '
                             f'got {cell}')
        cell_mean = F.avg_pool2d(
            images,
            kernel_size=cell,
            stride=1,
            padding=cell // 2,
            count_include_pad=False)
        # Replicate padding: outside the image, a neighbour cell is as bright
        # as the nearest cell inside (no fake contrast at the border).
        padded = F.pad(cell_mean, [cell] * 4, mode='replicate')
        brighter_than = {
            (dy, dx):
            (cell_mean - _shifted_window(padded, cell, dy * cell, dx * cell,
                                         height, width)).clamp(min=0)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1) if (dy, dx) != (0, 0)
        }
        contrast = None
        for dy, dx in OPPOSITE_DIRECTIONS:
            pair = torch.sqrt(brighter_than[(dy, dx)] *
                              brighter_than[(-dy, -dx)])
            contrast = pair if contrast is None else torch.minimum(
                contrast, pair)
        response = torch.maximum(response, contrast)
    return response


def adaptive_contrast_score(response: torch.Tensor,
                            k: float = 8.0,
                            eps: float = 1e-12) -> torch.Tensor:
    """Map a (N, 1, H, W) response to a score in [0, 1], per image.

    ``score = clamp((response - mean) / (k * std), 0, 1)`` with the mean and
    standard deviation of each image's response; see the module docstring
    for what this means under the metric's max-normalised 0.5 threshold. A
    constant response (std 0) gives an all-zero score, i.e. no detection.
    """
    flat = response.flatten(1)
    mean = flat.mean(dim=1).view(-1, 1, 1, 1)
    std = flat.std(dim=1, unbiased=False).view(-1, 1, 1, 1)
    return ((response - mean) / (k * std + eps)).clamp(0, 1)


def max_normalized_mask(score: torch.Tensor,
                        threshold: float = 0.5) -> torch.Tensor:
    """``score / max(score) > threshold`` per image, as uint8 (no positives
    when the maximum is 0), i.e. ``ISTDMetric``'s default binarisation."""
    peak = score.flatten(1).amax(dim=1).view(-1, *([1] * (score.dim() - 1)))
    positive = (score > threshold * peak) & (peak > 0)
    return positive.to(torch.uint8)


class BaseClassicalDetector(BaseModel):
    """Common plumbing of the training-free detectors.

    Subclasses implement :meth:`compute_response`; this class turns inputs
    into grey images, maps the response to a score with
    :func:`adaptive_contrast_score` and packs the results.

    Args:
        k (float): contrast gain of :func:`adaptive_contrast_score`.
        threshold (float): threshold of ``pred_mask`` on the max-normalised
            score, matching ``ISTDMetric``'s default. Defaults to 0.5.
        data_preprocessor (dict | nn.Module, optional): defaults to
            :class:`mmengine.model.BaseDataPreprocessor` (moves data to the
            device, nothing else).
        init_cfg (dict, optional): unused, kept for the mmengine signature.
    """

    def __init__(self,
                 k: float = 8.0,
                 threshold: float = 0.5,
                 data_preprocessor: OptConfigOrModule = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if k <= 0:
            raise ValueError(f'k must be positive, got {k}')
        self.k = k
        self.threshold = threshold
        # No parameters, but a (non-saved) buffer follows ``model.to(...)``
        # and tells the model which device it lives on.
        self.register_buffer('device_anchor', torch.zeros(0), persistent=False)

    def compute_response(self, images: torch.Tensor) -> torch.Tensor:
        """Background-suppressed response of (N, 1, H, W) grey images."""
        raise NotImplementedError

    def forward(
        self,
        inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
        data_samples: Optional[Sequence[DunSegDataSample]] = None,
        mode: str = 'predict'
    ) -> Union[torch.Tensor, List[torch.Tensor], List[DunSegDataSample]]:
        """Detect targets.

        Args:
            inputs (torch.Tensor | Sequence[torch.Tensor]): a (N, C, H, W)
                batch or a list of (C, H, W) images (of possibly different
                sizes), grey (C=1) or colour (C=3, channels are averaged).
                Float in [0, 1]; uint8 inputs are divided by 255.
            data_samples (Sequence[DunSegDataSample], optional): their
                metainfo and ground truth are copied to the outputs.
            mode (str): ``'predict'`` (list of data samples with
                ``pred_score`` and ``pred_mask``), ``'tensor'`` (the scores,
                (N, 1, H, W), or a list of (1, H, W) if the sizes differ) or
                ``'loss'`` (raises: there is nothing to train).
        """
        if mode == 'loss':
            raise RuntimeError(
                f'{type(self).__name__} is a training-free classical '
                'detector: it has no parameters and no loss. Run it with '
                'tools/test.py (test/val) only.')
        if mode not in ('predict', 'tensor'):
            raise ValueError(f'Invalid mode {mode!r}; {type(self).__name__} '
                             "supports 'predict' and 'tensor'")

        scores = self._score(inputs)
        if mode == 'tensor':
            return scores
        return self._pack_predictions(scores, data_samples)

    def _score(
        self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
    ) -> Union[torch.Tensor, List[torch.Tensor]]:
        """Scores of a batch tensor, or of a list of images (stacked when
        their sizes agree, image by image otherwise)."""
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() == 3:  # a single (C, H, W) image
                inputs = inputs[None]
            return self._score_batch(inputs)
        if len({tuple(image.shape) for image in inputs}) == 1:
            return self._score_batch(torch.stack(list(inputs)))
        return [self._score_batch(image[None])[0] for image in inputs]

    def _score_batch(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images -> (N, 1, H, W) scores in [0, 1]."""
        if images.dim() != 4:
            raise ValueError('inputs must be (N, C, H, W) or a list of '
                             f'(C, H, W) tensors, got shape '
                             f'{tuple(images.shape)}')
        images = images.to(self.device_anchor.device)
        if not images.is_floating_point():
            images = images.float() / 255
        grey = images.mean(dim=1, keepdim=True)
        return adaptive_contrast_score(self.compute_response(grey), self.k)

    def _pack_predictions(
        self, scores: Union[torch.Tensor, List[torch.Tensor]],
        data_samples: Optional[Sequence[DunSegDataSample]]
    ) -> List[DunSegDataSample]:
        """One new data sample per image, carrying the input's metainfo and
        ground truth plus ``pred_score`` and ``pred_mask``."""
        if data_samples is None:
            data_samples = [None] * len(scores)
        if len(data_samples) != len(scores):
            raise ValueError(f'got {len(scores)} images but '
                             f'{len(data_samples)} data samples')
        outputs = []
        for score, source in zip(scores, data_samples):
            if source is not None and 'img_shape' in source:
                # A padding data preprocessor (size_divisor) pads at the
                # bottom/right; the ground truth keeps the unpadded size.
                height, width = source.img_shape[:2]
                score = score[..., :height, :width]
            output = DunSegDataSample(
                metainfo=source.metainfo if source is not None else {})
            for field in ('gt_mask', 'gt_image'):
                if source is not None and field in source:
                    setattr(output, field, getattr(source, field))
            output.pred_score = PixelData(data=score)
            output.pred_mask = PixelData(
                data=max_normalized_mask(score[None], self.threshold)[0])
            outputs.append(output)
        return outputs


@MODELS.register_module()
class TopHatDetector(BaseClassicalDetector):
    """White top-hat small target detector.

    ``response = image - opening(image)`` with a ``radius``-pixel structuring
    element, then the adaptive score (see the module docstring).

    Args:
        radius (int): structuring element radius. It must be larger than the
            targets (so the opening erases them) and small enough that clutter
            survives the opening: 5 (an 11 px disk) covers targets of 1-9 px.
            Defaults to 5.
        footprint (str): ``'disk'`` (isotropic; round clutter is removed
            cleanly) or ``'square'`` (one max pooling, faster; leaves residue
            along round edges). Defaults to ``'disk'``.
        k (float): contrast gain; positives are ``response > mean + k/2 std``
            when the image has a strong peak. Defaults to 8.
        threshold, data_preprocessor, init_cfg: see
            :class:`BaseClassicalDetector`.
    """

    def __init__(self,
                 radius: int = 5,
                 footprint: str = 'disk',
                 k: float = 8.0,
                 threshold: float = 0.5,
                 data_preprocessor: OptConfigOrModule = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            k=k,
            threshold=threshold,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if radius < 1:
            raise ValueError(f'radius must be >= 1, got {radius}')
        if footprint not in FOOTPRINTS:
            raise ValueError(f'footprint must be one of {FOOTPRINTS}, got '
                             f'{footprint!r}')
        self.radius = radius
        self.footprint = footprint

    def compute_response(self, images: torch.Tensor) -> torch.Tensor:
        return white_top_hat(images, self.radius, self.footprint)


@MODELS.register_module()
class LocalContrastDetector(BaseClassicalDetector):
    """Multiscale patch-contrast (MPCM) small target detector.

    See :func:`multiscale_patch_contrast`. Unlike the top-hat it rejects
    edges and ridges (bright on one side only), but a bright blob about as
    large as the biggest cell also looks like a target.

    Args:
        scales (Sequence[int]): odd cell sizes; (3, 5, 7, 9) covers targets
            of 1-9 px. Defaults to (3, 5, 7, 9).
        k (float): contrast gain. Defaults to 8.
        threshold, data_preprocessor, init_cfg: see
            :class:`BaseClassicalDetector`.
    """

    def __init__(self,
                 scales: Sequence[int] = (3, 5, 7, 9),
                 k: float = 8.0,
                 threshold: float = 0.5,
                 data_preprocessor: OptConfigOrModule = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            k=k,
            threshold=threshold,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not scales or any(cell < 1 or cell % 2 == 0 for cell in scales):
            raise ValueError('scales must be a non-empty list of odd '
                             f'positive cell sizes, got {scales}')
        self.scales = tuple(scales)

    def compute_response(self, images: torch.Tensor) -> torch.Tensor:
        return multiscale_patch_contrast(images, self.scales)
