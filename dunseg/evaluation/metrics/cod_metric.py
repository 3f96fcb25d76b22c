"""Concealed object detection (COD) metrics on PySODMetrics.

PySODMetrics (``pip install --no-deps pysodmetrics``, import
``py_sod_metrics``) is the Python counterpart of the MATLAB CODToolbox the
COD papers evaluate with. Its declared pins (numpy < 2.3.5, scikit-image <
0.26, opencv < 5) would downgrade this environment, so dunseg installs it
without dependencies (see ``requirements/cod.txt``); it only needs numpy,
scipy, scikit-image, OpenCV and scikit-learn at import.

Every score follows the official test scripts of SINet-V2 / RUN:

1. the prediction (a foreground probability, ``pred_score``) is resized
   bilinearly to the ground truth's size (``F.interpolate``,
   ``align_corners=False``),
2. min-max normalised, ``(p - min) / (max - min + 1e-8)``,
3. written as an 8-bit PNG (``cv2.imwrite(path, p * 255)``, which rounds),

and PySODMetrics then reads it as the toolbox does (``im2double`` and
``mapminmax``; ground truth ``> 128``). Metrics, all averaged over the
images of one set:

========== ==============================================================
``Sm``     S-measure Sα (α = 0.5)
``wFm``    weighted F-measure Fβʷ (β = 1)
``MAE``    mean absolute error
``adpEm``  E-measure at the adaptive threshold (2 × mean of the map)
``meanEm`` E-measure averaged over the 256 thresholds
``maxEm``  maximum over thresholds of the set's mean E-measure curve
``adpFm``  F-measure (β² = 0.3) at the adaptive threshold
``meanFm`` F-measure averaged over the thresholds
``maxFm``  maximum over thresholds of the set's mean F-measure curve
========== ==============================================================

:func:`evaluate_cod_image` and :func:`summarize_cod_records` are plain
NumPy so tools (``tools/analysis_tools/eval_cod.py``, ``cod_curves.py``)
score saved prediction maps with the same code.
"""
import os
import os.path as osp
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from dunseg.registry import METRICS

COD_METRIC_KEYS = ('Sm', 'wFm', 'MAE', 'adpEm', 'meanEm', 'maxEm', 'adpFm',
                   'meanFm', 'maxFm')
# Curves are indexed by threshold 0..255 (a pixel is foreground when its
# 8-bit value is >= the threshold).
CURVE_KEYS = ('em_curve', 'fm_curve', 'precision', 'recall')
_PYSOD_HELP = (
    'CODMetric needs PySODMetrics: pip install --no-deps '
    'pysodmetrics==1.6.2 scikit-learn (without --no-deps pip downgrades '
    'numpy, scikit-image and OpenCV; see requirements/cod.txt)')


def _pysod():
    try:
        import py_sod_metrics
    except ImportError as err:
        raise ImportError(f'{_PYSOD_HELP} ({err})') from err
    return py_sod_metrics


def _as_2d(array: Union[np.ndarray, torch.Tensor], name: str) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().float().numpy()
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ValueError(f'{name} must have shape (H, W) or (1, H, W), got '
                         f'{tuple(array.shape)}')
    return array


def prediction_to_uint8(score: Union[np.ndarray, torch.Tensor],
                        size: Optional[Sequence[int]] = None,
                        normalize: bool = True) -> np.ndarray:
    """The official test scripts' map: resize, min-max, 8-bit (rounded).

    Args:
        score: (H, W) or (1, H, W) foreground probability (after sigmoid).
        size (tuple[int, int], optional): (H, W) of the ground truth; the
            map is resized bilinearly (``align_corners=False``) to it.
        normalize (bool): Min-max normalise (``(p - min) / (max - min +
            1e-8)``) as SINet-V2 / RUN do. False clips to [0, 1] instead.

    Returns:
        np.ndarray: (H, W) uint8.
    """
    score = torch.as_tensor(_as_2d(score, 'pred_score'),
                            dtype=torch.float32)
    if size is not None and tuple(score.shape) != tuple(size[:2]):
        score = F.interpolate(score[None, None], size=tuple(size[:2]),
                              mode='bilinear', align_corners=False)[0, 0]
    score = score.numpy().astype(np.float64)
    if normalize:
        score = (score - score.min()) / (score.max() - score.min() + 1e-8)
    else:
        score = np.clip(score, 0.0, 1.0)
    # cv2.imwrite(path, res * 255) of the test scripts rounds to nearest.
    return np.clip(np.round(score * 255), 0, 255).astype(np.uint8)


def gt_to_uint8(gt: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
    """A {0, 1} (or {0, 255}) mask as the 0/255 uint8 PySODMetrics reads."""
    gt = _as_2d(gt, 'gt_mask')
    if gt.dtype == bool or (gt.size and gt.max() <= 1):
        return (gt > 0).astype(np.uint8) * 255
    return np.asarray(gt, dtype=np.uint8)


def evaluate_cod_image(pred: np.ndarray, gt: np.ndarray) -> Dict[str, object]:
    """PySODMetrics scores of one image.

    Args:
        pred (np.ndarray): (H, W) uint8 prediction (see
            :func:`prediction_to_uint8`).
        gt (np.ndarray): (H, W) uint8 ground truth (0/255, > 128 = object).

    Returns:
        dict: ``Sm``, ``wFm``, ``MAE``, ``adpEm``, ``adpFm`` (floats) and
        the curves ``em_curve``, ``fm_curve``, ``precision``, ``recall``
        (float32 arrays of 256 values, index = threshold).
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.dtype != np.uint8 or gt.dtype != np.uint8:
        raise TypeError(f'evaluate_cod_image expects uint8 maps, got '
                        f'{pred.dtype} and {gt.dtype}; use '
                        'prediction_to_uint8 / gt_to_uint8')
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth '
                         f'{gt.shape} differ in size; resize the prediction '
                         '(prediction_to_uint8(score, size=gt.shape))')
    sod = _pysod()
    sm, wfm, mae, em = (sod.Smeasure(), sod.WeightedFmeasure(), sod.MAE(),
                        sod.Emeasure())
    fm = sod.FmeasureV2(metric_handlers=dict(
        fm=sod.FmeasureHandler(with_dynamic=True, with_adaptive=True,
                               beta=0.3),
        p=sod.PrecisionHandler(with_dynamic=True, with_adaptive=False),
        r=sod.RecallHandler(with_dynamic=True, with_adaptive=False)))
    for evaluator in (sm, wfm, mae, em, fm):
        evaluator.step(pred=pred, gt=gt)
    fm_res = fm.get_results()

    def curve(values) -> np.ndarray:
        # PySODMetrics orders curves from threshold 255 down to 0.
        return np.asarray(values, dtype=np.float64)[::-1].astype(np.float32)

    return dict(
        Sm=float(sm.sms[0]),
        wFm=float(wfm.weighted_fms[0]),
        MAE=float(mae.maes[0]),
        adpEm=float(em.adaptive_ems[0]),
        adpFm=float(fm_res['fm']['adaptive']),
        em_curve=curve(em.changeable_ems[0]),
        fm_curve=curve(fm_res['fm']['dynamic']),
        precision=curve(fm_res['p']['dynamic']),
        recall=curve(fm_res['r']['dynamic']))


def summarize_cod_records(records: Sequence[dict],
                          with_curves: bool = False) -> Dict[str, object]:
    """Average per-image records into the COD metrics of one set.

    ``maxEm`` / ``maxFm`` are the maximum of the *mean* curves (the toolbox
    and PySODMetrics convention), ``meanEm`` / ``meanFm`` their mean.

    Args:
        records (Sequence[dict]): Outputs of :func:`evaluate_cod_image`.
        with_curves (bool): Also return the mean curves (lists of 256).
    """
    if not records:
        raise ValueError('summarize_cod_records: no records (empty set)')
    out: Dict[str, object] = OrderedDict()
    mean = {k: float(np.mean([r[k] for r in records]))
            for k in ('Sm', 'wFm', 'MAE', 'adpEm', 'adpFm')}
    em_curve = np.mean(np.stack([r['em_curve'] for r in records]), axis=0)
    fm_curve = np.mean(np.stack([r['fm_curve'] for r in records]), axis=0)
    values = dict(mean, meanEm=float(em_curve.mean()),
                  maxEm=float(em_curve.max()),
                  meanFm=float(fm_curve.mean()),
                  maxFm=float(fm_curve.max()))
    for key in COD_METRIC_KEYS:
        out[key] = values[key]
    if with_curves:
        out['em_curve'] = em_curve.tolist()
        out['fm_curve'] = fm_curve.tolist()
        out['precision'] = np.mean(
            np.stack([r['precision'] for r in records]), axis=0).tolist()
        out['recall'] = np.mean(
            np.stack([r['recall'] for r in records]), axis=0).tolist()
    return out


def group_records(records: Sequence[dict]) -> Dict[str, List[dict]]:
    """Records grouped by ``dataset_name`` (insertion order kept)."""
    groups: Dict[str, List[dict]] = defaultdict(list)
    for r in records:
        groups[r.get('dataset_name') or 'all'].append(r)
    return dict(groups)


MAP_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


def read_map(path: str) -> np.ndarray:
    """Read a saved prediction or mask as (H, W) uint8 (colour files: their
    grey level; 16-bit files scaled to 8 bit)."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise IOError(f'could not read {path!r} as an image (missing, empty '
                      'or not an image file)')
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2GRAY)
    if img.dtype == np.uint16:
        img = (img.astype(np.float64) / 257.0).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        img = (np.clip(img.astype(np.float64), 0, 1) * 255).astype(np.uint8)
    return img


def _stems(folder: str) -> Dict[str, str]:
    if not osp.isdir(folder):
        raise FileNotFoundError(f'folder not found: {folder!r}')
    return {
        osp.splitext(f)[0]: osp.join(folder, f)
        for f in sorted(os.listdir(folder))
        if not f.startswith('.') and osp.splitext(f)[1].lower() in
        MAP_EXTENSIONS
    }


def _evaluate_pair(paths) -> dict:
    pred_path, gt_path = paths
    gt = gt_to_uint8(read_map(gt_path) > 128)
    pred = read_map(pred_path)
    if pred.shape != gt.shape:
        # Maps saved at another size: resize as the metric does, keeping the
        # stored values (the toolbox min-max normalises them on reading).
        pred = prediction_to_uint8(pred / 255.0, gt.shape, normalize=False)
    return evaluate_cod_image(pred, gt)


def evaluate_cod_folders(pred_dir: str,
                         gt_dir: str,
                         with_curves: bool = False,
                         allow_missing: bool = False,
                         workers: int = 1,
                         progress: bool = False) -> Dict[str, object]:
    """Score saved prediction maps against a mask folder (matched by stem).

    Predictions are read as they were saved (8-bit maps; PySODMetrics
    min-max normalises each one, as the MATLAB toolbox does); a map whose
    size differs from its mask is resized bilinearly first.

    Args:
        pred_dir (str): Folder of prediction maps (``<stem>.png`` ...).
        gt_dir (str): Folder of ground-truth masks.
        with_curves (bool): Add the mean curves (see
            :func:`summarize_cod_records`).
        allow_missing (bool): Skip masks without a prediction instead of
            raising (the count is reported as ``num_missing``).
        workers (int): Processes to use.
        progress (bool): Show a progress bar (one step per image) on
            stderr.

    Returns:
        dict: The metrics, ``num_images`` and ``num_missing``.
    """
    preds, gts = _stems(pred_dir), _stems(gt_dir)
    if not gts:
        raise FileNotFoundError(f'no mask files ({MAP_EXTENSIONS}) in '
                                f'{gt_dir!r}')
    missing = [s for s in gts if s not in preds]
    if missing and not allow_missing:
        raise FileNotFoundError(
            f'{len(missing)} of {len(gts)} masks in {gt_dir!r} have no '
            f'prediction in {pred_dir!r} (matched by file stem), e.g. '
            f'{missing[:5]}; pass allow_missing (--allow-missing) to score '
            'the others')
    pairs = [(preds[s], gts[s]) for s in gts if s in preds]
    if not pairs:
        raise FileNotFoundError(f'no prediction in {pred_dir!r} matches a '
                                f'mask of {gt_dir!r} by file stem')
    if progress:
        import sys

        from mmengine.utils import track_parallel_progress, track_progress
        if workers > 1:
            records = track_parallel_progress(
                _evaluate_pair, pairs, workers, chunksize=16, file=sys.stderr)
        else:
            records = track_progress(_evaluate_pair, pairs, file=sys.stderr)
    elif workers > 1:
        from multiprocessing import Pool
        with Pool(workers) as pool:
            records = pool.map(_evaluate_pair, pairs, chunksize=16)
    else:
        records = [_evaluate_pair(p) for p in pairs]
    out = summarize_cod_records(records, with_curves=with_curves)
    out['num_images'] = len(records)
    out['num_missing'] = len(missing)
    return out


@METRICS.register_module()
class CODMetric(BaseMetric):
    """Sα, Eφ (adaptive / mean / max), Fβʷ, Fβ (adaptive / mean / max) and
    MAE per test set, with PySODMetrics (see the module docstring).

    ``process`` reads each data sample's ``pred_score`` (``PixelData``
    (1, H, W) in [0, 1]) and ``gt_mask`` ((1, h, w) in {0, 1}), resizes the
    prediction to the mask's size (test pipelines load the mask after the
    resize, so this is the image's original size) and normalises it as the
    official test scripts; it keeps only the per-image scores and
    256-point curves, so multi-process gathering stays small.

    ``compute_metrics`` reports, for every ``dataset_name`` in the
    samples' metainfo, ``<name>/<metric>`` (e.g. ``COD10K/Sm``), and the
    plain ``<metric>`` keys: the set's values when there is one set, the
    average over the sets (each set weighing the same) when there are
    several, for checkpoint selection (``save_best='Sm'``).

    With ``baselines``, every set also gets the Sα and MAE of
    training-free maps scored on the same masks
    (:data:`~dunseg.evaluation.cod_baselines.COD_BASELINES`:
    ``'centre-gaussian'``, ``'all-zero'``), as ``<name>/<baseline>/Sm`` and
    ``<name>/<baseline>/MAE``, printed beside the model's: a model below
    them has learned less than "look at the middle" or "nothing is there".

    Args:
        normalize (bool): Min-max normalise the prediction (official).
        baselines (sequence of str): Training-free maps to score beside the
            model. Empty = none (the official evaluation).
        collect_device (str): Device for gathering results across ranks.
        prefix (str, optional): Prefix of the metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 normalize: bool = True,
                 baselines: Sequence[str] = (),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        _pysod()  # fail at build time, not after a whole test pass
        self.normalize = normalize
        from ..cod_baselines import COD_BASELINES
        unknown = [b for b in baselines if b not in COD_BASELINES]
        if unknown:
            raise ValueError(f'CODMetric: unknown baselines {unknown}; '
                             f'choose from {sorted(COD_BASELINES)}')
        self.baselines = {name: COD_BASELINES[name] for name in baselines}
        self._baseline_maps: Dict[tuple, np.ndarray] = {}

    def _baseline_map(self, name: str, shape) -> np.ndarray:
        """The 8-bit map of a baseline at ``shape``, made once per size
        (it depends on nothing else)."""
        key = (name, tuple(shape))
        if key not in self._baseline_maps:
            self._baseline_maps[key] = prediction_to_uint8(
                self.baselines[name](shape), None, self.normalize)
        return self._baseline_maps[key]

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            if isinstance(sample, dict):
                pred = sample.get('pred_score')
                gt = sample.get('gt_mask')
                meta = sample.get('metainfo', sample)
            else:
                pred = sample.get('pred_score')
                gt = sample.get('gt_mask')
                meta = sample.metainfo
            name = meta.get('img_path', '?')
            if pred is None:
                raise KeyError(f'CODMetric: the model returned no pred_score '
                               f'for {name!r}')
            if gt is None:
                raise KeyError(
                    f'CODMetric: no gt_mask for {name!r}; the test pipeline '
                    'needs LoadCODAnnotations before PackCODInputs')
            pred = pred['data'] if isinstance(pred, dict) else pred.data
            gt = gt['data'] if isinstance(gt, dict) else gt.data
            if not torch.isfinite(torch.as_tensor(pred)).all():
                # Min-max normalisation would turn NaN into a plausible map.
                raise ValueError(
                    f'CODMetric: pred_score of {name!r} has NaN or infinite '
                    'values; the model diverged or its input was not finite')
            gt_u8 = gt_to_uint8(gt)
            pred_u8 = prediction_to_uint8(pred, gt_u8.shape, self.normalize)
            record = evaluate_cod_image(pred_u8, gt_u8)
            record['dataset_name'] = meta.get('dataset_name')
            for baseline in self.baselines:
                scores = evaluate_cod_image(
                    self._baseline_map(baseline, gt_u8.shape), gt_u8)
                record[f'{baseline}/Sm'] = scores['Sm']
                record[f'{baseline}/MAE'] = scores['MAE']
            self.results.append(record)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        groups = group_records(results)
        metrics: Dict[str, float] = OrderedDict()
        per_set = {}
        for name, records in groups.items():
            per_set[name] = summarize_cod_records(records)
            for key, value in per_set[name].items():
                metrics[f'{name}/{key}'] = value
            metrics[f'{name}/num_images'] = len(records)
            for baseline in self.baselines:
                for key in ('Sm', 'MAE'):
                    per_set[name][f'{baseline}/{key}'] = \
                        metrics[f'{name}/{baseline}/{key}'] = float(
                            np.mean([r[f'{baseline}/{key}']
                                     for r in records]))
        for key in COD_METRIC_KEYS:
            metrics[key] = float(
                np.mean([values[key] for values in per_set.values()]))
        lines = [f'{"set":<24}{"n":>6}' +
                 ''.join(f'{k:>8}' for k in COD_METRIC_KEYS)]
        for name, values in per_set.items():
            lines.append(f'{name:<24}{len(groups[name]):>6}' + ''.join(
                f'{values[k]:>8.4f}' for k in COD_METRIC_KEYS))
        for baseline in self.baselines:
            lines.append(f'{baseline} map (Sm / MAE): ' + ', '.join(
                f'{name} {values[baseline + "/Sm"]:.4f} / '
                f'{values[baseline + "/MAE"]:.4f}'
                for name, values in per_set.items()))
        print_log('COD metrics per test set:\n' + '\n'.join(lines),
                  logger='current')
        return metrics


__all__ = [
    'CODMetric', 'COD_METRIC_KEYS', 'evaluate_cod_image',
    'summarize_cod_records', 'prediction_to_uint8', 'gt_to_uint8',
    'group_records', 'read_map', 'evaluate_cod_folders'
]
