"""Infrared small target detection (ISTD) metrics: IoU, nIoU, F1, Pd and Fa.

The definitions reproduce the evaluation code released with RPCANet /
L-RPCANet (``my_PD_FA`` and the dataset-level IoU) and, optionally, the
centroid-matching ``PD_FA`` of DNANet. Everything that works on a single image
is a pure numpy function so that tests and stand-alone scripts (e.g. the
classical baselines) can use the exact same definitions without mmengine:

.. code-block:: python

    records = [evaluate_istd_image(score, gt) for score, gt in pairs]
    metrics = summarize_istd_records(records)  # same keys as ISTDMetric

:class:`ISTDMetric` wraps them for mmengine's evaluator: ``process`` reduces
each image to a handful of integer counts and ``compute_metrics`` sums them.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from skimage import measure

from dunseg.registry import METRICS

NORMALIZE_MODES = ('max', 'none')
PD_FA_MODES = ('rpcanet', 'centroid')

# Fa is reported in units of 1e-6 (the convention of ISTD papers' tables).
FA_SCALE = 1e6

# The integer counts that one image is reduced to. Keeping only these (and
# never the images) lets ``self.results`` stay tiny for thousands of images
# and makes the records trivially picklable for the cross-rank gather.
RECORD_KEYS = ('tp', 'fp', 'fn', 'num_targets', 'num_detected',
               'false_alarm_pixels', 'fa_area')


def _as_2d_array(array: Union[np.ndarray, torch.Tensor],
                 name: str) -> np.ndarray:
    """Return ``array`` as a 2-D numpy array, accepting (H, W) or (1, H, W)."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f'{name} must have shape (H, W) or (1, H, W), got '
                         f'{tuple(array.shape)}')
    return array


def _safe_ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or 0 when the denominator is 0."""
    return float(numerator) / denominator if denominator > 0 else 0.0


def binarize_prediction(score: np.ndarray,
                        threshold: float = 0.5,
                        normalize: str = 'max') -> np.ndarray:
    """Turn a foreground score map into a boolean mask.

    Args:
        score (np.ndarray): (H, W) predicted foreground probability.
        threshold (float): a pixel is positive when its (normalised) score is
            strictly greater than ``threshold``. Defaults to 0.5.
        normalize (str): ``'max'`` (RPCANet's evaluation) divides the score by
            its per-image maximum first, so the threshold is relative to the
            strongest response; a map whose maximum is <= 0 has no positives
            (the official code divides by 0 and every NaN compares False).
            ``'none'`` thresholds the raw score. Defaults to ``'max'``.

    Returns:
        np.ndarray: (H, W) bool mask of predicted-positive pixels.
    """
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f'normalize must be one of {NORMALIZE_MODES}, got '
                         f'{normalize!r}')
    score = np.asarray(score, dtype=np.float64)
    if normalize == 'max':
        peak = score.max() if score.size else 0.0
        if peak <= 0:
            return np.zeros(score.shape, dtype=bool)
        score = score / peak
    return score > threshold


def resize_for_evaluation(score: np.ndarray, gt_mask: np.ndarray,
                          eval_size: Tuple[int, int]
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """Resize a score map bilinearly and a mask nearest to ``eval_size``.

    The official RPCANet evaluation works at 256x256; bilinear keeps the
    score continuous (it is thresholded afterwards) while nearest keeps the
    mask binary and its components' pixels genuine.

    Args:
        score (np.ndarray): (H, W) float score map.
        gt_mask (np.ndarray): (H', W') mask; may differ in size from
            ``score``.
        eval_size (tuple[int, int]): target size as (H, W).

    Returns:
        tuple[np.ndarray, np.ndarray]: float32 score and uint8 mask, both of
        shape ``eval_size``.
    """
    height, width = eval_size
    # cv2 takes (W, H).
    score = cv2.resize(
        np.asarray(score, dtype=np.float32), (width, height),
        interpolation=cv2.INTER_LINEAR)
    gt_mask = cv2.resize(
        (np.asarray(gt_mask) > 0).astype(np.uint8), (width, height),
        interpolation=cv2.INTER_NEAREST)
    return score, gt_mask


def pixel_counts(pred_binary: np.ndarray,
                 gt_binary: np.ndarray) -> Dict[str, int]:
    """Pixel-level true positives, false positives and false negatives.

    Args:
        pred_binary (np.ndarray): (H, W) predicted-positive mask.
        gt_binary (np.ndarray): (H, W) ground-truth mask (non-zero = target).

    Returns:
        dict: ``tp``, ``fp`` and ``fn`` as Python ints.
    """
    pred_binary = np.asarray(pred_binary, dtype=bool)
    gt_binary = np.asarray(gt_binary) > 0
    tp = np.count_nonzero(pred_binary & gt_binary)
    fp = np.count_nonzero(pred_binary & ~gt_binary)
    fn = np.count_nonzero(~pred_binary & gt_binary)
    return dict(tp=int(tp), fp=int(fp), fn=int(fn))


def pd_fa_rpcanet(pred_binary: np.ndarray,
                  gt_binary: np.ndarray) -> Dict[str, int]:
    """Per-image Pd/Fa counts of RPCANet's ``my_PD_FA``.

    Ground-truth targets are the 8-connected components of the mask. A target
    is detected when at least one of its pixels is predicted positive; false
    alarms are predicted-positive pixels in the ground-truth background, and
    the Fa denominator is the background area.

    An image without any ground-truth target is skipped by the official code
    (it contributes neither to Pd nor to Fa, whatever is predicted); here it
    returns all-zero counts, which is the same thing once summed.

    Args:
        pred_binary (np.ndarray): (H, W) predicted-positive mask.
        gt_binary (np.ndarray): (H, W) ground-truth mask (non-zero = target).

    Returns:
        dict: ``num_targets``, ``num_detected``, ``false_alarm_pixels`` and
        ``fa_area`` (background pixels), as Python ints.
    """
    pred_binary = np.asarray(pred_binary, dtype=bool)
    gt_uint8 = (np.asarray(gt_binary) > 0).astype(np.uint8)
    num_labels, labels, _, _ = cv2.connectedComponentsWithStats(
        gt_uint8, connectivity=8)
    num_targets = num_labels - 1  # label 0 is the background
    if num_targets == 0:
        return dict(
            num_targets=0, num_detected=0, false_alarm_pixels=0, fa_area=0)

    background = labels == 0
    false_alarm_pixels = np.count_nonzero(background & pred_binary)
    # The labels of every target touched by a positive pixel; one pass over
    # the image instead of one mask per target.
    hit_labels = np.unique(labels[pred_binary])
    num_detected = np.count_nonzero(hit_labels > 0)
    return dict(
        num_targets=int(num_targets),
        num_detected=int(num_detected),
        false_alarm_pixels=int(false_alarm_pixels),
        fa_area=int(np.count_nonzero(background)))


def pd_fa_centroid(pred_binary: np.ndarray,
                   gt_binary: np.ndarray,
                   centroid_distance: float = 3.0) -> Dict[str, int]:
    """Per-image Pd/Fa counts of DNANet's centroid-matching ``PD_FA``.

    Predicted and ground-truth components are 8-connected
    (``skimage.measure.label(connectivity=2)``). Ground-truth components are
    visited in label order; each is matched to the first still-unmatched
    predicted component whose centroid lies at a Euclidean distance strictly
    below ``centroid_distance``, and that predicted component is then removed
    (greedy, each prediction matches at most one target). False alarms are
    the pixels of unmatched predicted components; the Fa denominator is the
    whole image area, so target-free images count here.

    Args:
        pred_binary (np.ndarray): (H, W) predicted-positive mask.
        gt_binary (np.ndarray): (H, W) ground-truth mask (non-zero = target).
        centroid_distance (float): matching radius in pixels. Defaults to 3.

    Returns:
        dict: ``num_targets``, ``num_detected``, ``false_alarm_pixels`` and
        ``fa_area`` (image pixels), as Python ints.
    """
    pred_binary = np.asarray(pred_binary, dtype=bool)
    gt_binary = np.asarray(gt_binary) > 0
    pred_regions = measure.regionprops(
        measure.label(pred_binary, connectivity=2))
    gt_regions = measure.regionprops(measure.label(gt_binary, connectivity=2))

    unmatched = list(pred_regions)
    num_detected = 0
    for gt_region in gt_regions:
        gt_centroid = np.asarray(gt_region.centroid)
        for index, pred_region in enumerate(unmatched):
            distance = np.linalg.norm(
                np.asarray(pred_region.centroid) - gt_centroid)
            if distance < centroid_distance:
                num_detected += 1
                del unmatched[index]
                break

    false_alarm_pixels = sum(int(region.area) for region in unmatched)
    return dict(
        num_targets=len(gt_regions),
        num_detected=num_detected,
        false_alarm_pixels=false_alarm_pixels,
        fa_area=int(gt_binary.size))


def evaluate_istd_image(score: Union[np.ndarray, torch.Tensor],
                        gt_mask: Union[np.ndarray, torch.Tensor],
                        threshold: float = 0.5,
                        normalize: str = 'max',
                        eval_size: Optional[Tuple[int, int]] = None,
                        pd_fa_mode: str = 'rpcanet',
                        centroid_distance: float = 3.0,
                        img_path: Optional[str] = None) -> Dict[str, int]:
    """Reduce one image to the integer counts the ISTD metrics need.

    Args:
        score (np.ndarray | torch.Tensor): (H, W) or (1, H, W) foreground
            probability.
        gt_mask (np.ndarray | torch.Tensor): (H, W) or (1, H, W) mask,
            non-zero = target.
        threshold, normalize: see :func:`binarize_prediction`.
        eval_size (tuple[int, int], optional): evaluate at this (H, W) after
            :func:`resize_for_evaluation`. Without it, ``score`` and
            ``gt_mask`` must have the same shape.
        pd_fa_mode (str): ``'rpcanet'`` (:func:`pd_fa_rpcanet`) or
            ``'centroid'`` (:func:`pd_fa_centroid`).
        centroid_distance (float): matching radius of the centroid mode.
        img_path (str, optional): only used in error messages.

    Returns:
        dict: the keys of ``RECORD_KEYS``, as Python ints.
    """
    if pd_fa_mode not in PD_FA_MODES:
        raise ValueError(f'pd_fa_mode must be one of {PD_FA_MODES}, got '
                         f'{pd_fa_mode!r}')
    score = _as_2d_array(score, 'pred_score')
    gt_mask = _as_2d_array(gt_mask, 'gt_mask')
    if eval_size is not None:
        score, gt_mask = resize_for_evaluation(score, gt_mask, eval_size)
    elif score.shape != gt_mask.shape:
        raise ValueError(
            f'prediction and ground truth of {img_path or "an image"} differ '
            f'in shape: pred_score {tuple(score.shape)} vs gt_mask '
            f'{tuple(gt_mask.shape)}; predict at the mask resolution or set '
            'ISTDMetric(eval_size=(H, W)) to resize both before evaluating')

    pred_binary = binarize_prediction(score, threshold, normalize)
    gt_binary = gt_mask > 0
    record = pixel_counts(pred_binary, gt_binary)
    if pd_fa_mode == 'rpcanet':
        record.update(pd_fa_rpcanet(pred_binary, gt_binary))
    else:
        record.update(
            pd_fa_centroid(pred_binary, gt_binary, centroid_distance))
    return record


def summarize_istd_records(records: Sequence[Dict[str, int]],
                           niou_skip_empty: bool = False) -> Dict[str, float]:
    """Aggregate per-image records into the final, unrounded ISTD metrics.

    - ``IoU``, ``Precision``, ``Recall``, ``F1``: from TP/FP/FN summed over
      all images (target-free images included), in percent.
    - ``nIoU``: mean of the per-image TP / (TP + FP + FN), in percent. With
      ``niou_skip_empty=False`` (DNANet's convention) an image whose union is
      empty (no target, nothing predicted) contributes 0; with ``True`` such
      images are left out of the mean.
    - ``Pd``: detected targets / targets, in percent.
    - ``Fa``: false-alarm pixels / reference area, in units of 1e-6.

    Args:
        records (Sequence[dict]): outputs of :func:`evaluate_istd_image`.
        niou_skip_empty (bool): leave empty-union images out of nIoU.

    Returns:
        OrderedDict: ``IoU``, ``nIoU``, ``F1``, ``Precision``, ``Recall``,
        ``Pd``, ``Fa`` (floats) and ``num_images`` (int).
    """
    totals = {
        key: sum(record[key] for record in records)
        for key in RECORD_KEYS
    }
    tp, fp, fn = totals['tp'], totals['fp'], totals['fn']
    precision = _safe_ratio(tp, tp + fp)
    recall = _safe_ratio(tp, tp + fn)

    per_image_iou = [
        _safe_ratio(record['tp'], record['tp'] + record['fp'] + record['fn'])
        for record in records if not (niou_skip_empty and record['tp'] +
                                      record['fp'] + record['fn'] == 0)
    ]
    niou = float(np.mean(per_image_iou)) if per_image_iou else 0.0

    return OrderedDict(
        IoU=100 * _safe_ratio(tp, tp + fp + fn),
        nIoU=100 * niou,
        F1=100 * _safe_ratio(2 * precision * recall, precision + recall),
        Precision=100 * precision,
        Recall=100 * recall,
        Pd=100 * _safe_ratio(totals['num_detected'], totals['num_targets']),
        Fa=FA_SCALE *
        _safe_ratio(totals['false_alarm_pixels'], totals['fa_area']),
        num_images=len(records))


@METRICS.register_module()
class ISTDMetric(BaseMetric):
    """IoU / nIoU / F1 / Pd / Fa for infrared small target detection.

    Reported keys (mmseg-style rounding to 2 decimals):

    - ``IoU``, ``nIoU``, ``F1``, ``Precision``, ``Recall``, ``Pd``: in
      **percent** (``IoU=75.31`` means 0.7531).
    - ``Fa``: in **units of 1e-6** -- ``Fa=2.87`` means a false-alarm rate of
      2.87 x 10^-6, NOT 2.87 %. This is the unit ISTD papers' tables use.
    - ``num_images``: number of evaluated images.

    Definitions (those of the official RPCANet / L-RPCANet evaluation):

    - Binarisation: each ``pred_score`` is divided by its own maximum
      (``normalize='max'``) and thresholded with ``> threshold``; see
      :func:`binarize_prediction`.
    - IoU, Precision, Recall, F1 use TP/FP/FN summed over ALL test images;
      nIoU averages the per-image IoU (an empty-union image counts as 0
      unless ``niou_skip_empty=True``).
    - ``pd_fa_mode='rpcanet'``: 8-connected ground-truth targets, detected
      if any of their pixels is positive; Fa = positive background pixels /
      background pixels. Images without ground-truth targets are skipped for
      Pd AND Fa (they still count for IoU/nIoU). See :func:`pd_fa_rpcanet`.
    - ``pd_fa_mode='centroid'`` (DNANet): greedy centroid matching within
      ``centroid_distance`` pixels; Fa = pixels of unmatched predicted
      components / all pixels of all images (target-free ones included).
      See :func:`pd_fa_centroid`.

    Args:
        threshold (float): binarisation threshold. Defaults to 0.5.
        normalize (str): ``'max'`` or ``'none'``. Defaults to ``'max'``.
        eval_size (int | tuple[int, int], optional): evaluate at this (H, W)
            (bilinear for scores, nearest for masks); the official code uses
            256. Defaults to None (evaluate at the given size; prediction and
            mask must then have the same shape).
        pd_fa_mode (str): ``'rpcanet'`` or ``'centroid'``.
            Defaults to ``'rpcanet'``.
        centroid_distance (float): matching radius of the centroid mode, in
            pixels. Defaults to 3.
        niou_skip_empty (bool): leave images with an empty union out of the
            nIoU mean. Defaults to False.
        collect_device (str): device used to gather results across ranks.
        prefix (str, optional): prefix of the metric names.
    """

    def __init__(self,
                 threshold: float = 0.5,
                 normalize: str = 'max',
                 eval_size: Optional[Union[int, Tuple[int, int]]] = None,
                 pd_fa_mode: str = 'rpcanet',
                 centroid_distance: float = 3.0,
                 niou_skip_empty: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix, **kwargs)
        if normalize not in NORMALIZE_MODES:
            raise ValueError(f'normalize must be one of {NORMALIZE_MODES}, '
                             f'got {normalize!r}')
        if pd_fa_mode not in PD_FA_MODES:
            raise ValueError(f'pd_fa_mode must be one of {PD_FA_MODES}, got '
                             f'{pd_fa_mode!r}')
        if isinstance(eval_size, int):
            eval_size = (eval_size, eval_size)
        if eval_size is not None:
            eval_size = tuple(int(side) for side in eval_size)
            if len(eval_size) != 2 or min(eval_size) <= 0:
                raise ValueError('eval_size must be a positive int or an '
                                 f'(H, W) pair, got {eval_size}')
        self.threshold = threshold
        self.normalize = normalize
        self.eval_size = eval_size
        self.pd_fa_mode = pd_fa_mode
        self.centroid_distance = centroid_distance
        self.niou_skip_empty = niou_skip_empty

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Reduce every sample of a batch to integer counts.

        Args:
            data_batch (dict): a batch from the dataloader (unused).
            data_samples (Sequence[dict]): the model outputs as dicts
                (``DunSegDataSample.to_dict()``), each with
                ``pred_score['data']`` (1, H, W) and ``gt_mask['data']``
                (1, H, W).
        """
        for sample in data_samples:
            img_path = sample.get('img_path')
            if 'pred_score' in sample:
                score = sample['pred_score']['data']
            elif 'pred_mask' in sample:
                # A hard mask is a valid score map: max-normalisation leaves
                # {0, 1} unchanged and 0.5 separates them.
                score = sample['pred_mask']['data']
            else:
                raise KeyError(f'data sample of {img_path or "an image"} has '
                               'neither pred_score nor pred_mask')
            if 'gt_mask' not in sample:
                raise KeyError(
                    f'data sample of {img_path or "an image"} has no gt_mask; '
                    'add a mask-loading transform to the test pipeline')
            if isinstance(score, torch.Tensor):
                score = score.float()  # numpy has no bfloat16
            self.results.append(
                evaluate_istd_image(
                    score,
                    sample['gt_mask']['data'],
                    threshold=self.threshold,
                    normalize=self.normalize,
                    eval_size=self.eval_size,
                    pd_fa_mode=self.pd_fa_mode,
                    centroid_distance=self.centroid_distance,
                    img_path=img_path))

    def compute_metrics(self,
                        results: List[Dict[str, int]]) -> Dict[str, float]:
        """Sum the gathered per-image counts into the final metrics.

        Args:
            results (list[dict]): the records of every image on every rank.

        Returns:
            dict: ``IoU``, ``nIoU``, ``F1``, ``Precision``, ``Recall``,
            ``Pd`` (percent), ``Fa`` (x 1e-6) and ``num_images``.
        """
        summary = summarize_istd_records(results, self.niou_skip_empty)
        metrics = OrderedDict()
        for name, value in summary.items():
            metrics[name] = (
                value if name == 'num_images' else round(float(value), 2))
        self._log_table(metrics)
        return metrics

    def _log_table(self, metrics: Dict[str, float]) -> None:
        """Print the metrics as a one-row table, stating the units."""
        headers = [
            'IoU(%)', 'nIoU(%)', 'F1(%)', 'P(%)', 'R(%)', 'Pd(%)', 'Fa(1e-6)',
            'images'
        ]
        values = [
            f'{metrics[name]:.2f}'
            for name in ('IoU', 'nIoU', 'F1', 'Precision', 'Recall', 'Pd',
                         'Fa')
        ] + [str(metrics['num_images'])]
        widths = [max(len(h), len(v)) for h, v in zip(headers, values)]
        rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

        def row(cells):
            return '| ' + ' | '.join(
                cell.rjust(width) for cell, width in zip(cells, widths)) + ' |'

        table = '\n'.join([rule, row(headers), rule, row(values), rule])
        print_log(
            f'ISTD results (Pd/Fa mode: {self.pd_fa_mode}):\n{table}',
            logger='current')
