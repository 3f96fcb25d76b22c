"""Segmentation (Dice, IoU, HD95) and restoration (PSNR, SSIM) scores of
joint medical restoration + segmentation, per dataset and per modality.

Dice, IoU and HD95 are MONAI's (``monai.metrics.compute_dice``,
``compute_iou``, ``compute_hausdorff_distance(percentile=95)``) on one-hot
class maps; PSNR and SSIM are :func:`~.restoration_metric.psnr_ssim`, the
restoration metric's own computation.

Scores are computed per image and per class, then averaged:

- per class over the images of a dataset. A class absent from an image's
  ground truth is skipped for that image (MONAI's ``ignore_empty=True``,
  its default) unless ``ignore_empty=False``, which scores it 1 when the
  prediction is empty too and 0 otherwise (slice-wise evaluation with
  empty slices then rewards true negatives and punishes false positives);
- the dataset's ``Dice`` / ``IoU`` / ``HD95`` is the mean over its
  foreground classes (background excluded unless
  ``include_background=True``);
- the overall ``Dice`` / ``IoU`` / ``PSNR`` ... is the mean over datasets,
  VL-DUN's "Average" column (Table 1), so a large test set does not
  outweigh a small one; ``num_images`` counts them all.

HD95 is the larger of the two directed 95th percentiles: the boundary
pixels of each mask (the mask minus its binary erosion) are measured
(Euclidean distance) to the nearest boundary pixel of the other mask, the
95th percentile (linear interpolation) is taken of each of the two
directed distance sets, and the larger one is reported. This is MONAI's
``compute_hausdorff_distance(..., percentile=95)`` (``directed=False``).
medpy's ``hd95`` instead pools both distance sets before taking the
percentile, which can be several pixels less when one mask has a small
stray region far from the other (few far distances in a pooled set fall
below its 95th percentile); HD95 numbers from the two libraries are not
interchangeable.

HD95 is in pixels of the evaluated slices (the pipelines resize slices, so
the voxel spacing is gone). It is undefined (MONAI: NaN or inf) when the
prediction or the ground truth of a class is empty; such cases are
skipped and counted in ``HD95_undefined``.
"""
import warnings
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from dunseg.registry import METRICS

from .restoration_metric import psnr_ssim


def _require_monai():
    try:
        from monai.metrics import (
            compute_dice,
            compute_hausdorff_distance,
            compute_iou,
        )
        from monai.networks.utils import one_hot
    except ImportError as err:
        raise ImportError(
            'MedicalSegMetric needs MONAI; install it with `pip install -r '
            'requirements/medical.txt` (monai==1.6.1)') from err
    return compute_dice, compute_iou, compute_hausdorff_distance, one_hot


def _labels(value, name: str, path) -> torch.Tensor:
    if isinstance(value, dict):  # PixelData after Evaluator's to_dict()
        value = value['data']
    elif hasattr(value, 'data'):
        value = value.data
    value = torch.as_tensor(value)
    if value.ndim == 2:
        value = value[None]
    if value.ndim != 3 or value.shape[0] != 1:
        raise ValueError(f'MedicalSegMetric: {name} of {path} has shape '
                         f'{tuple(value.shape)}; expected (1, H, W) class '
                         'indices')
    if value.is_floating_point():
        raise TypeError(f'MedicalSegMetric: {name} of {path} is '
                        f'{value.dtype}; expected integer class indices (a '
                        'model writes argmax indices to pred_mask)')
    return value.long()


def segmentation_scores(pred: torch.Tensor, gt: torch.Tensor,
                        num_classes: int, hd95: bool = False,
                        ignore_empty: bool = True) -> Dict[str, np.ndarray]:
    """Per-class Dice, IoU (and HD95) of one (1, H, W) prediction against
    its (1, H, W) ground truth, background included (index 0).

    ``hd95`` is the larger of the two directed 95th-percentile boundary
    distances (MONAI's definition, see the module docstring), not medpy's
    pooled percentile.

    Returns ``{'dice': (C,), 'iou': (C,)[, 'hd95': (C,)]}`` float64 arrays
    with NaN where a score is undefined.
    """
    compute_dice, compute_iou, compute_hd, one_hot = _require_monai()
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and ground truth '
                         f'{tuple(gt.shape)} differ in shape')
    top = int(max(pred.max(), gt.max()))
    if top >= num_classes or int(min(pred.min(), gt.min())) < 0:
        raise ValueError(f'labels reach {top} but num_classes is '
                         f'{num_classes}')
    p = one_hot(pred[None], num_classes, dim=1)
    g = one_hot(gt[None], num_classes, dim=1)
    out = dict(
        dice=compute_dice(p, g, include_background=True,
                          ignore_empty=ignore_empty)[0].double().numpy(),
        iou=compute_iou(p, g, include_background=True,
                        ignore_empty=ignore_empty)[0].double().numpy())
    if hd95:
        with warnings.catch_warnings():
            # MONAI warns about its own deprecated internal argument and
            # about empty masks, which are handled (NaN) below
            warnings.simplefilter('ignore', FutureWarning)
            warnings.filterwarnings('ignore', message='the (prediction|'
                                    'ground truth) of class')
            values = compute_hd(p.float(), g.float(),
                                include_background=True,
                                percentile=95)[0].double().numpy()
        values[~np.isfinite(values)] = np.nan
        # MONAI scores an empty prediction against an empty ground truth
        # as 0; that is "undefined" too, not a perfect boundary.
        empty = (p.sum((2, 3)) == 0)[0].numpy() | (g.sum(
            (2, 3)) == 0)[0].numpy()
        values[empty] = np.nan
        out['hd95'] = values
    return out


@METRICS.register_module()
class MedicalSegMetric(BaseMetric):
    """Dice / IoU (/ HD95) per class and dataset, PSNR / SSIM per dataset
    and modality.

    Reads, per data sample: ``pred_mask`` and ``gt_mask`` ((1, H, W) class
    indices), ``pred_image`` / ``gt_image`` ((1, H, W) in [0, 1]) when
    present, ``input_image`` (the undersampled input, for the
    ``input_PSNR`` baseline) when present, and the metainfo
    ``dataset_name``, ``modality``, ``num_classes`` and ``classes``.

    Reported keys (``<d>`` = dataset name, ``<c>`` = class name, ``<m>`` =
    modality):

    - ``Dice``, ``IoU`` (``HD95``): mean over datasets of the foreground-
      class mean; ``Dice_<d>``, ``IoU_<d>`` (``HD95_<d>``);
      ``Dice_<d>/<c>``, ``IoU_<d>/<c>`` (``HD95_<d>/<c>``) per class;
    - ``PSNR``, ``SSIM`` (mean over datasets), ``PSNR_<d>``, ``PSNR_<m>``,
      ``SSIM_<d>``, ``SSIM_<m>``, and the same with ``input_`` for the
      undersampled input when the samples carry it;
    - ``num_images``.

    Args:
        num_classes (int, optional): Used when samples carry no
            ``num_classes``.
        class_names (Sequence[str], optional): Used when samples carry no
            ``classes``.
        include_background (bool): Count class 0 in the means.
        ignore_empty (bool): See the module docstring.
        hd95 (bool): Also compute the 95th-percentile Hausdorff distance,
            the larger of the two directed 95th percentiles (MONAI's
            definition, not medpy's pooled one; see the module docstring;
            slower: distance transforms per class and image).
        restoration (bool): Score ``pred_image`` when present (the metric
            then requires it on every sample of a dataset that has it).
        collect_device (str): Device used to gather results across ranks.
        prefix (str, optional): Prefix of the metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 num_classes: Optional[int] = None,
                 class_names: Optional[Sequence[str]] = None,
                 include_background: bool = False,
                 ignore_empty: bool = True,
                 hd95: bool = False,
                 restoration: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         **kwargs)
        _require_monai()  # fail at build time, not after a test epoch
        self.num_classes = num_classes
        self.class_names = tuple(class_names) if class_names else None
        self.include_background = include_background
        self.ignore_empty = ignore_empty
        self.hd95 = hd95
        self.restoration = restoration

    def _classes(self, sample: dict, path) -> Sequence[str]:
        names = sample.get('classes') or self.class_names
        num = sample.get('num_classes') or self.num_classes or (
            len(names) if names else None)
        if num is None:
            raise KeyError(
                f'MedicalSegMetric: {path} has no num_classes in its '
                'metainfo and the metric was built without num_classes; use '
                'PackMedicalInputs or set MedicalSegMetric(num_classes=...)')
        names = tuple(names) if names else tuple(f'class{i}'
                                                 for i in range(int(num)))
        if len(names) != int(num):
            raise ValueError(f'MedicalSegMetric: {path} names {len(names)} '
                             f'classes {names} but num_classes is {num}')
        return names

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            path = sample.get('img_id') or sample.get('img_path', '?')
            record = dict(dataset=str(sample.get('dataset_name', 'all')),
                          modality=str(sample.get('modality', 'unknown')))
            if 'pred_mask' in sample:
                if 'gt_mask' not in sample:
                    raise KeyError(
                        f'MedicalSegMetric: no gt_mask for {path}; the test '
                        'pipeline must load labels')
                names = self._classes(sample, path)
                pred = _labels(sample['pred_mask'], 'pred_mask', path)
                gt = _labels(sample['gt_mask'], 'gt_mask', path)
                try:
                    scores = segmentation_scores(pred, gt, len(names),
                                                 self.hd95,
                                                 self.ignore_empty)
                except ValueError as err:
                    raise ValueError(f'MedicalSegMetric: {path}: {err}')
                record.update(classes=names, **scores)
            if self.restoration and 'pred_image' in sample:
                if 'gt_image' not in sample:
                    raise KeyError(
                        f'MedicalSegMetric: pred_image but no gt_image for '
                        f'{path}; the test pipeline must keep the clean slice')
                gt_img = sample['gt_image']['data']
                record['psnr'], record['ssim'] = psnr_ssim(
                    sample['pred_image']['data'], gt_img)
                if 'input_image' in sample:
                    record['input_psnr'], record['input_ssim'] = psnr_ssim(
                        sample['input_image']['data'], gt_img)
            if len(record) == 2:
                raise KeyError(
                    f'MedicalSegMetric: {path} has neither pred_mask nor '
                    'pred_image; the model must predict a segmentation or a '
                    'restoration')
            self.results.append(record)

    def _class_means(self, records: List[dict], key: str):
        """Per-class nan-mean over images and the foreground mean."""
        names = records[0]['classes']
        if any(r['classes'] != names for r in records):
            raise ValueError(
                f'MedicalSegMetric: dataset {records[0]["dataset"]!r} mixes '
                f'class lists {sorted({r["classes"] for r in records})}')
        stacked = np.stack([r[key] for r in records])
        with warnings.catch_warnings():
            # an all-NaN column (class never present) is NaN, said below
            warnings.simplefilter('ignore', RuntimeWarning)
            per_class = np.nanmean(stacked, axis=0)
        first = 0 if self.include_background else 1
        fg = per_class[first:]
        mean = float(np.nanmean(fg)) if np.isfinite(fg).any() else float(
            'nan')
        undefined = int(np.isnan(stacked[:, first:]).sum())
        return names, per_class, mean, undefined

    @staticmethod
    def _r(value: float, digits: int) -> float:
        return round(float(value), digits) if np.isfinite(value) else float(
            'nan')

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics: Dict[str, float] = OrderedDict()
        by_dataset: Dict[str, List[dict]] = defaultdict(list)
        by_modality: Dict[str, List[dict]] = defaultdict(list)
        for r in results:
            by_dataset[r['dataset']].append(r)
            by_modality[r['modality']].append(r)
        seg_keys = ['dice', 'iou'] + (['hd95'] if self.hd95 else [])
        labels = dict(dice='Dice', iou='IoU', hd95='HD95')
        digits = dict(dice=4, iou=4, hd95=2)
        dataset_means: Dict[str, Dict[str, float]] = defaultdict(dict)
        rows = []
        for name in sorted(by_dataset):
            seg = [r for r in by_dataset[name] if 'dice' in r]
            row = [name, len(by_dataset[name])]
            for key in seg_keys:
                if not seg:
                    continue
                classes, per_class, mean, undefined = self._class_means(
                    seg, key)
                dataset_means[key][name] = mean
                metrics[f'{labels[key]}_{name}'] = self._r(mean, digits[key])
                for cls, value in zip(classes, per_class):
                    metrics[f'{labels[key]}_{name}/{cls}'] = self._r(
                        value, digits[key])
                if key == 'hd95':
                    metrics[f'HD95_undefined_{name}'] = undefined
                row.append(f'{labels[key]} {mean:.4f}')
            rows.append(row)
        for key in seg_keys:
            values = [v for v in dataset_means[key].values() if np.isfinite(v)]
            if values:
                metrics[labels[key]] = self._r(np.mean(values), digits[key])
        for score, digit in (('psnr', 2), ('ssim', 4), ('input_psnr', 2),
                             ('input_ssim', 4)):
            label = score.upper().replace('INPUT_', 'input_')
            means = {}
            for name, group in sorted(by_dataset.items()):
                vals = [r[score] for r in group if score in r]
                if vals:
                    means[name] = float(np.mean(vals))
                    metrics[f'{label}_{name}'] = round(means[name], digit)
            if not means:
                continue
            metrics[label] = round(float(np.mean(list(means.values()))),
                                   digit)
            if len(by_modality) > 1 or set(by_modality) != set(by_dataset):
                for modality, group in sorted(by_modality.items()):
                    vals = [r[score] for r in group if score in r]
                    if vals:
                        metrics[f'{label}_{modality}'] = round(
                            float(np.mean(vals)), digit)
        metrics['num_images'] = len(results)
        lines = [' | '.join(str(x) for x in row) for row in rows]
        summary = ', '.join(f'{k}={v}' for k, v in metrics.items()
                            if '/' not in k)
        print_log('MedicalSegMetric\n' + '\n'.join(lines) + '\n' + summary,
                  logger='current')
        return metrics


__all__ = ['MedicalSegMetric', 'segmentation_scores']
