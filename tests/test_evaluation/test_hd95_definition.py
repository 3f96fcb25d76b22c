"""HD95 is the larger of the two directed 95th percentiles (MONAI), not the
95th percentile of both distance sets pooled (medpy's ``hd95``)."""
import numpy as np
import pytest
import torch
from scipy import ndimage

pytest.importorskip('monai')

from dunseg.evaluation.metrics.medical_metric import (  # noqa: E402
    MedicalSegMetric,
    segmentation_scores,
)


def _boundary(mask):
    return mask & ~ndimage.binary_erosion(mask)


def _directed(a, b):
    """Distances of a's boundary pixels to the nearest boundary pixel of b."""
    return ndimage.distance_transform_edt(~_boundary(b))[_boundary(a)]


def _case():
    """A 40x40 ground-truth square; the prediction is the same square plus a
    4x4 stray blob 12 px to its right. The blob's 12 boundary pixels are 7 %
    of the prediction's boundary (above 5 %: the directed percentile sees
    them) but under 4 % of both sets pooled (the pooled one does not)."""
    gt = np.zeros((64, 80), bool)
    gt[10:50, 10:50] = True
    pred = gt.copy()
    pred[28:32, 62:66] = True
    return pred, gt


def test_hd95_is_the_larger_directed_percentile():
    pred, gt = _case()
    d_pg, d_gp = _directed(pred, gt), _directed(gt, pred)
    assert len(d_pg) == 156 + 12 and len(d_gp) == 156
    directed = max(np.percentile(d_pg, 95), np.percentile(d_gp, 95))
    pooled = np.percentile(np.concatenate([d_pg, d_gp]), 95)
    # the definitions differ by several pixels on this case
    assert directed > 5 and pooled == 0

    scores = segmentation_scores(
        torch.from_numpy(pred.astype(np.int64))[None],
        torch.from_numpy(gt.astype(np.int64))[None], num_classes=2,
        hd95=True)
    assert scores['hd95'][1] == pytest.approx(directed, abs=1e-4)
    assert scores['hd95'][1] != pytest.approx(pooled, abs=1)
    # symmetric in its arguments
    swapped = segmentation_scores(
        torch.from_numpy(gt.astype(np.int64))[None],
        torch.from_numpy(pred.astype(np.int64))[None], num_classes=2,
        hd95=True)
    assert swapped['hd95'][1] == pytest.approx(directed, abs=1e-4)


def test_hd95_definition_is_documented():
    for doc in (segmentation_scores.__doc__, MedicalSegMetric.__doc__):
        assert 'larger of the two directed' in ' '.join(doc.split())
