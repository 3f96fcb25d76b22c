"""Degradation-type recognition accuracy (VLU-Net's CLIP adapter tuning)."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from dunseg.registry import METRICS


def _as_int(value, what: str, img_path: Optional[str]) -> int:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f'{what} of {img_path or "an image"} must be a '
                             f'scalar, got shape {tuple(value.shape)}')
        value = value.item()
    elif isinstance(value, np.ndarray):
        value = value.item()
    return int(value)


def confusion_matrix(labels: Sequence[int], preds: Sequence[int],
                     num_classes: int) -> np.ndarray:
    """Counts ``cm[true, pred]`` (num_classes x num_classes, int64)."""
    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    for name, arr in (('label', labels), ('prediction', preds)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(
                f'{name} out of range [0, {num_classes}): '
                f'{sorted(set(arr.tolist()))}; check degradation_classes')
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


@METRICS.register_module()
class DegradationRecognitionMetric(BaseMetric):
    """Per-class, overall and mean-class accuracy of degradation recognition.

    Reads ``pred_label`` (int or 0-d tensor; a data field or metainfo key)
    and ``metainfo['degradation_label']`` of every data sample. Class names
    come from ``dataset_meta['degradation_classes']`` (set by the runner from
    the dataset) or ``classes``; results from all ranks are gathered by
    mmengine before :meth:`compute_metrics`.

    Reported keys (percent, 2 decimals): ``accuracy`` (over all images),
    ``mean_class_accuracy`` (mean over classes that have images),
    ``accuracy/<class>`` per class, and ``num_images``. The confusion
    matrix (rows = true class, columns = predicted) is logged.

    Args:
        classes (sequence of str, optional): class names when the dataset
            does not provide ``degradation_classes``.
        collect_device (str): device used to gather results across ranks.
        prefix (str, optional): prefix of the metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 classes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix, **kwargs)
        self.classes = tuple(classes) if classes is not None else None

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            img_path = sample.get('img_path')
            if 'pred_label' not in sample:
                raise KeyError(
                    f'data sample of {img_path or "an image"} has no '
                    'pred_label; use a model that recognises degradations '
                    '(e.g. CLIPAdapterClassifier)')
            if 'degradation_label' not in sample:
                raise KeyError(
                    f'data sample of {img_path or "an image"} has no '
                    "metainfo['degradation_label']; the dataset must record "
                    'the degradation type')
            self.results.append(
                (_as_int(sample['degradation_label'], 'degradation_label',
                         img_path),
                 _as_int(sample['pred_label'], 'pred_label', img_path)))

    def _class_names(self, num_seen: int) -> List[str]:
        meta = self.dataset_meta or {}
        classes = meta.get('degradation_classes', self.classes)
        if classes is None:
            return [str(i) for i in range(num_seen)]
        return list(classes)

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        labels = [r[0] for r in results]
        preds = [r[1] for r in results]
        num_seen = max(labels + preds) + 1 if results else 0
        classes = self._class_names(num_seen)
        cm = confusion_matrix(labels, preds, len(classes))
        total = int(cm.sum())
        metrics = OrderedDict()
        metrics['accuracy'] = round(
            100.0 * np.trace(cm) / total, 2) if total else 0.0
        per_class = []
        for i, name in enumerate(classes):
            count = int(cm[i].sum())
            if count:
                acc = 100.0 * cm[i, i] / count
                per_class.append(acc)
                metrics[f'accuracy/{name}'] = round(float(acc), 2)
        metrics['mean_class_accuracy'] = round(
            float(np.mean(per_class)), 2) if per_class else 0.0
        metrics['num_images'] = total
        self._log_confusion(cm, classes)
        return metrics

    @staticmethod
    def _log_confusion(cm: np.ndarray, classes: List[str]) -> None:
        width = max([len(c) for c in classes] + [6])
        header = ' ' * (width + 2) + ' '.join(
            f'{c[:width]:>{width}}' for c in classes)
        rows = [
            f'{classes[i]:>{width}}  ' + ' '.join(
                f'{int(v):>{width}d}' for v in cm[i])
            for i in range(len(classes))
        ]
        print_log(
            'Degradation confusion matrix (rows: true, columns: predicted):'
            '\n' + '\n'.join([header] + rows),
            logger='current')


__all__ = ['DegradationRecognitionMetric', 'confusion_matrix']
