import numpy as np
import pytest
import torch

from dunseg.evaluation import DegradationRecognitionMetric
from dunseg.evaluation.metrics.degradation_recognition import confusion_matrix
from dunseg.registry import METRICS

CLASSES = ('denoise_15', 'dehaze', 'derain')


def _samples(labels, preds):
    return [
        dict(degradation_label=label, pred_label=torch.tensor(p),
             img_path=f'{i}.png')
        for i, (label, p) in enumerate(zip(labels, preds))
    ]


def test_per_class_overall_and_mean_accuracy():
    metric = METRICS.build(dict(type='DegradationRecognitionMetric'))
    metric.dataset_meta = dict(degradation_classes=CLASSES)
    labels = [0, 0, 0, 0, 1, 1, 2, 2]
    preds = [0, 0, 0, 1, 1, 2, 0, 2]
    # two batches, as the evaluator calls process
    metric.process({}, _samples(labels[:5], preds[:5]))
    metric.process({}, _samples(labels[5:], preds[5:]))
    res = metric.evaluate(8)
    assert res['accuracy'] == 62.5  # 5 of 8
    assert res['accuracy/denoise_15'] == 75.0
    assert res['accuracy/dehaze'] == 50.0
    assert res['accuracy/derain'] == 50.0
    assert res['mean_class_accuracy'] == pytest.approx(58.33, abs=0.01)
    assert res['num_images'] == 8


def test_classes_argument_int_labels_and_absent_classes():
    metric = DegradationRecognitionMetric(classes=CLASSES)
    metric.process({}, [dict(degradation_label=np.int64(2), pred_label=2)])
    res = metric.evaluate(1)
    assert res['accuracy'] == 100.0 and 'accuracy/dehaze' not in res
    assert res['mean_class_accuracy'] == 100.0


def test_confusion_matrix_and_errors():
    cm = confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], 3)
    np.testing.assert_array_equal(
        cm, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match='out of range'):
        confusion_matrix([0, 3], [0, 0], 3)
    metric = DegradationRecognitionMetric()
    with pytest.raises(KeyError, match='pred_label'):
        metric.process({}, [dict(degradation_label=0, img_path='a.png')])
    with pytest.raises(KeyError, match='degradation_label'):
        metric.process({}, [dict(pred_label=0)])
