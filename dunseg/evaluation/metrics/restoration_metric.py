"""PSNR / SSIM for image restoration, as the official VLU-Net evaluation.

The official code (``utils/val_utils.py``) centre-crops every test image to a
multiple of 16, clamps the output to [0, 1] and averages scikit-image's
``peak_signal_noise_ratio`` and ``structural_similarity`` (RGB,
``data_range=1``, ``channel_axis=2``) over each test set. :func:`psnr_ssim`
is that computation for one image; :class:`RestorationMetric` wraps it for
mmengine and breaks the averages down by degradation type
(``metainfo['degradation']``).
"""
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dunseg.registry import METRICS


def center_crop_to_multiple(img: np.ndarray, base: int) -> np.ndarray:
    """Centre-crop an (H, W[, C]) image so H and W are multiples of ``base``
    (the official ``crop_img(base=16)``)."""
    h, w = img.shape[:2]
    ch, cw = h - h % base, w - w % base
    top, left = (h - ch) // 2, (w - cw) // 2
    return img[top:top + ch, left:left + cw]


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Luma of an RGB image in [0, 1] (ITU-R BT.601, studio range, as
    MATLAB's ``rgb2ycbcr`` and most restoration papers' Y-channel scores)."""
    weights = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0
    return img.astype(np.float64) @ weights + 16.0 / 255.0


def _to_hwc(image, name: str) -> np.ndarray:
    """A (C, H, W) tensor/array (data-sample layout) or (H, W) -> (H, W, C)."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().float().numpy()
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image[..., None]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f'{name}: expected an image of shape (C, H, W) with '
                         f'C = 1 or 3, got {image.shape}')
    return image.transpose(1, 2, 0)


MAX_PSNR = 100.0


def psnr_ssim(pred, gt, crop_to_multiple: Optional[int] = None,
              crop_border: int = 0, test_y_channel: bool = False,
              data_range: float = 1.0) -> Tuple[float, float]:
    """PSNR (dB) and SSIM of one restored image against its clean image.

    Args:
        pred, gt: (C, H, W) tensors or arrays in [0, ``data_range``];
            ``pred`` is clamped to that range first.
        crop_to_multiple (int, optional): centre-crop both to a multiple of
            this first (16 in the official evaluation).
        crop_border (int): pixels removed from every border after that.
        test_y_channel (bool): score the BT.601 luma only.

    PSNR is capped at :data:`MAX_PSNR` (100 dB, an exact copy).
    """
    pred = np.clip(_to_hwc(pred, 'pred_image'), 0, data_range)
    gt = _to_hwc(gt, 'gt_image')
    if pred.shape != gt.shape:
        raise ValueError(f'restored image shape {pred.shape} differs from the '
                         f'clean image shape {gt.shape} (H, W, C)')
    if crop_to_multiple:
        pred = center_crop_to_multiple(pred, crop_to_multiple)
        gt = center_crop_to_multiple(gt, crop_to_multiple)
    if crop_border:
        pred = pred[crop_border:-crop_border, crop_border:-crop_border]
        gt = gt[crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel and pred.shape[-1] == 3:
        pred, gt = rgb_to_y(pred / data_range), rgb_to_y(gt / data_range)
        data_range = 1.0
    elif pred.shape[-1] == 1:
        pred, gt = pred[..., 0], gt[..., 0]
    # an exact copy scores MAX_PSNR instead of infinity, so that means over
    # a set that holds one stay finite
    psnr = min(MAX_PSNR,
               peak_signal_noise_ratio(gt, pred, data_range=data_range))
    if pred.ndim == 3:
        ssim = structural_similarity(
            gt, pred, data_range=data_range, channel_axis=2)
    else:
        ssim = structural_similarity(gt, pred, data_range=data_range)
    return float(psnr), float(ssim)


@METRICS.register_module()
class RestorationMetric(BaseMetric):
    """PSNR / SSIM, overall and per degradation type.

    Reported keys: ``PSNR`` (dB), ``SSIM`` (0-1, 4 decimals), averaged over
    all images; ``PSNR_<type>`` / ``SSIM_<type>`` for every degradation type
    found in ``metainfo['degradation']``; with ``with_input_baseline`` also
    ``input_PSNR`` / ``input_SSIM`` (and per type): the degraded input scored
    against the clean image, the identity baseline a model must beat.

    Args:
        crop_to_multiple (int, optional): centre-crop prediction and clean
            image to a multiple of this before scoring (the official eval uses
            16; the test pipelines already crop with ``CenterCropToMultiple``,
            so the default None leaves the images as they are).
        crop_border (int): border pixels ignored.
        test_y_channel (bool): score the luma channel only.
        with_input_baseline (bool): also score the degraded input
            (``input_image`` of the data sample).
        group_by (sequence of str): metainfo keys that name a group; the
            default reports one row per degradation type and, when the test
            set names itself (``dataset_name``, e.g. ``CBSD68``), per test
            set and type (``PSNR_CBSD68/denoise_25``).
        missing_gt (str): what to do with a sample without ``gt_image``:
            ``'error'`` (default) or ``'skip'`` (a segmentation test set
            that mixes clean images, which have nothing to restore, with
            degraded ones; the count of skipped images is reported as
            ``num_images_without_gt``).
        recognition_breakdown (bool): for a prior-guided restorer whose
            predictions name the recognised degradation
            (``pred_degradation``, the same names as ``degradation``), also
            split every type into the images the prior recognised and those
            it misread: ``PSNR_<type>/recognised`` and
            ``PSNR_<type>/misread`` (+ ``input_PSNR_...`` and
            ``num_images_...``), to tell a weak restorer from a misled one.
        collect_device (str): device used to gather results across ranks.
        prefix (str, optional): prefix of the metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 crop_to_multiple: Optional[int] = None,
                 crop_border: int = 0,
                 test_y_channel: bool = False,
                 with_input_baseline: bool = True,
                 group_by: Sequence[str] = ('dataset_name', 'degradation'),
                 recognition_breakdown: bool = False,
                 missing_gt: str = 'error',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix, **kwargs)
        self.crop_to_multiple = crop_to_multiple
        self.crop_border = crop_border
        self.test_y_channel = test_y_channel
        self.with_input_baseline = with_input_baseline
        self.group_by = tuple(group_by)
        self.recognition_breakdown = recognition_breakdown
        if missing_gt not in ('error', 'skip'):
            raise ValueError("RestorationMetric: missing_gt must be 'error' "
                             f"or 'skip', got {missing_gt!r}")
        self.missing_gt = missing_gt

    def _score(self, pred, gt) -> Tuple[float, float]:
        return psnr_ssim(pred, gt, self.crop_to_multiple, self.crop_border,
                         self.test_y_channel)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            path = sample.get('img_path', '?')
            if 'pred_image' not in sample:
                raise KeyError(f'RestorationMetric: no pred_image for {path}; '
                               'the model must be a restorer')
            if 'gt_image' not in sample and self.missing_gt == 'skip':
                self.results.append(dict(without_gt=True))
                continue
            if 'gt_image' not in sample:
                raise KeyError(
                    f'RestorationMetric: no gt_image for {path}; the test '
                    'pipeline must load clean images')
            gt = sample['gt_image']['data']
            names = [str(sample[key]) for key in self.group_by
                     if sample.get(key) is not None]
            # A test set named after its only degradation adds nothing.
            names = [n for i, n in enumerate(names) if n not in names[:i]]
            record = dict(degradation=sample.get('degradation', 'all'),
                          group='/'.join(names) or 'all')
            record['psnr'], record['ssim'] = self._score(
                sample['pred_image']['data'], gt)
            if self.recognition_breakdown:
                if sample.get('pred_degradation') is None:
                    raise KeyError(
                        f'RestorationMetric(recognition_breakdown=True): '
                        f'{path} has no pred_degradation; the model needs a '
                        'prior head with prior_classes, or set '
                        'recognition_breakdown=False')
                record['pred_degradation'] = str(sample['pred_degradation'])
            if self.with_input_baseline and 'input_image' in sample:
                record['input_psnr'], record['input_ssim'] = self._score(
                    sample['input_image']['data'], gt)
            self.results.append(record)

    @staticmethod
    def _check_prior_vocabulary(results: List[dict]) -> None:
        """Every image would count as misread if the prior named the
        degradations differently from the dataset: say so instead."""
        predicted = {r['pred_degradation'] for r in results}
        actual = {str(r['degradation']) for r in results}
        if not predicted & actual:
            raise ValueError(
                'RestorationMetric(recognition_breakdown=True): the prior '
                f'names {sorted(predicted)} but the dataset {sorted(actual)}; '
                'set model.prior_classes to the dataset\'s degradation names '
                '(in the order of the prior\'s prompts)')

    @staticmethod
    def _mean(records: List[dict], key: str) -> float:
        return float(np.mean([r[key] for r in records]))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        without_gt = sum(1 for r in results if r.get('without_gt'))
        results = [r for r in results if not r.get('without_gt')]
        if not results:
            # only reachable with missing_gt='skip': a clean-only set
            print_log('RestorationMetric: no image of this set has a clean '
                      'gt_image; nothing to score', logger='current')
            return OrderedDict(num_images=0,
                               num_images_without_gt=without_gt)
        groups: Dict[str, List[dict]] = defaultdict(list)
        # Test-set groups only say more than the degradation groups when
        # one degradation spans several test sets or one set several types.
        pairs = {(r['group'], r['degradation']) for r in results}
        one_to_one = len(pairs) == len({g for g, _ in pairs}) == len(
            {d for _, d in pairs})
        for record in results:
            groups[record['degradation']].append(record)
            if record['group'] != record['degradation'] and not one_to_one:
                groups[record['group']].append(record)
        split_groups = set()
        if self.recognition_breakdown:
            self._check_prior_vocabulary(results)
            for record in results:
                outcome = ('recognised' if record['pred_degradation'] ==
                           str(record['degradation']) else 'misread')
                name = f"{record['degradation']}/{outcome}"
                groups[name].append(record)
                split_groups.add(name)
        has_input = all('input_psnr' in r for r in results)
        metrics: Dict[str, float] = OrderedDict()
        metrics['PSNR'] = round(self._mean(results, 'psnr'), 2)
        metrics['SSIM'] = round(self._mean(results, 'ssim'), 4)
        if has_input:
            metrics['input_PSNR'] = round(self._mean(results, 'input_psnr'), 2)
            metrics['input_SSIM'] = round(self._mean(results, 'input_ssim'), 4)
        rows = []
        for name in sorted(groups):
            records = groups[name]
            psnr = self._mean(records, 'psnr')
            ssim = self._mean(records, 'ssim')
            if len(groups) > 1 or name != 'all':
                metrics[f'PSNR_{name}'] = round(psnr, 2)
                metrics[f'SSIM_{name}'] = round(ssim, 4)
            if name in split_groups:
                metrics[f'num_images_{name}'] = len(records)
            row = [name, len(records), f'{psnr:.2f}', f'{ssim:.4f}']
            if has_input:
                in_psnr = self._mean(records, 'input_psnr')
                in_ssim = self._mean(records, 'input_ssim')
                if len(groups) > 1 or name != 'all':
                    metrics[f'input_PSNR_{name}'] = round(in_psnr, 2)
                    metrics[f'input_SSIM_{name}'] = round(in_ssim, 4)
                row += [f'{in_psnr:.2f}', f'{in_ssim:.4f}']
            rows.append(row)
        header = ['group', 'images', 'PSNR', 'SSIM']
        if has_input:
            header += ['input PSNR', 'input SSIM']
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        lines = [' | '.join(str(x).rjust(w) for x, w in zip(row, widths))
                 for row in [header] + rows]
        print_log('\n' + '\n'.join(lines), logger='current')
        metrics['num_images'] = len(results)
        if self.missing_gt == 'skip':
            metrics['num_images_without_gt'] = without_gt
        return metrics
