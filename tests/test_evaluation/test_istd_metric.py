"""Tests of the ISTD metric against cases worked out by hand."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from dunseg.evaluation import (
    ISTDMetric,
    binarize_prediction,
    evaluate_istd_image,
    pd_fa_centroid,
    pd_fa_rpcanet,
    pixel_counts,
    summarize_istd_records,
)
from dunseg.registry import METRICS
from dunseg.structures import DunSegDataSample


def two_target_case():
    """A 10x10 image with two targets, one partly hit, plus a false blob.

    GT: target A = 2x2 block rows 1-2, cols 1-2 (centroid (1.5, 1.5));
        target B = single pixel (7, 7).
    Prediction (max 0.9, so 'max' normalisation keeps raw > 0.45):
        (1, 1)=0.9, (1, 2)=0.8 -> hit A; (0, 1)=0.7 -> false, touching A.
        Together one 8-connected component P1 of 3 pixels with centroid
        (2/3, 4/3), at distance ~0.85 from A's centroid.
        (8, 1..3)=0.6 -> false blob P2, 3 pixels, centroid (8, 2), at
        distance sqrt(1 + 25) ~ 5.1 from B.
        (5, 5)=0.4 -> 0.44 after normalisation: negative.
    Pixel counts: TP=2, FP=1+3=4, FN=2 (rest of A)+1 (B)=3.
    """
    gt = np.zeros((10, 10), dtype=np.uint8)
    gt[1:3, 1:3] = 1
    gt[7, 7] = 1
    score = np.zeros((10, 10), dtype=np.float32)
    score[1, 1], score[1, 2], score[0, 1] = 0.9, 0.8, 0.7
    score[8, 1:4] = 0.6
    score[5, 5] = 0.4
    return score, gt


def target_free_case():
    """A 10x10 image without target and a 2-pixel false blob (TP=0, FP=2)."""
    gt = np.zeros((10, 10), dtype=np.uint8)
    score = np.zeros((10, 10), dtype=np.float32)
    score[4, 4:6] = 1.0
    return score, gt


def empty_case():
    """A 10x10 image with neither target nor prediction (empty union)."""
    return (np.zeros((10, 10),
                     dtype=np.float32), np.zeros((10, 10), dtype=np.uint8))


def as_sample_dict(score, gt, img_path='img.png'):
    """What mmengine's Evaluator hands to ``process``: a to_dict() sample."""
    sample = DunSegDataSample(metainfo=dict(img_path=img_path))
    sample.pred_score = PixelData(data=torch.from_numpy(score)[None])
    sample.gt_mask = PixelData(data=torch.from_numpy(gt)[None])
    return sample.to_dict()


def run_metric(metric, cases):
    metric.process(
        {},
        [as_sample_dict(s, g, f'{i}.png') for i, (s, g) in enumerate(cases)])
    return metric.compute_metrics(metric.results)


# ---------------------------------------------------------------- pure parts


def test_binarize_prediction_max_normalisation():
    # max 0.2: 0.2 -> 1.0 and 0.15 -> 0.75 are positive, 0.05 -> 0.25 not.
    score = np.zeros((4, 4), dtype=np.float32)
    score[0, 0], score[0, 1], score[2, 2] = 0.2, 0.15, 0.05
    expected = np.zeros((4, 4), dtype=bool)
    expected[0, 0] = expected[0, 1] = True
    np.testing.assert_array_equal(binarize_prediction(score), expected)
    # Without normalisation nothing exceeds 0.5.
    assert not binarize_prediction(score, normalize='none').any()
    # An all-zero map has no positives (no division by zero).
    assert not binarize_prediction(np.zeros((4, 4))).any()
    # Strictly greater than the threshold: 0.5 of the max is negative.
    assert binarize_prediction(np.array([[1.0,
                                          0.5]])).tolist() == [[True, False]]
    with pytest.raises(ValueError, match='normalize'):
        binarize_prediction(score, normalize='sigmoid')


def test_pixel_counts_and_pd_fa_functions():
    score, gt = two_target_case()
    pred = binarize_prediction(score)
    assert pixel_counts(pred, gt) == dict(tp=2, fp=4, fn=3)
    # rpcanet: A is touched, B is not; background = 100 - 5 = 95 pixels,
    # of which 4 are predicted positive.
    assert pd_fa_rpcanet(pred, gt) == dict(
        num_targets=2, num_detected=1, false_alarm_pixels=4, fa_area=95)
    # centroid: P1 matches A (0.85 < 3), P2 is 5.1 px from B: unmatched, its
    # 3 pixels are false alarms over the 100-pixel image. The false pixel
    # (0, 1) belongs to the matched P1, so it is NOT a false alarm here.
    assert pd_fa_centroid(pred, gt) == dict(
        num_targets=2, num_detected=1, false_alarm_pixels=3, fa_area=100)


def test_centroid_matching_is_greedy_and_strict():
    # Two single-pixel targets at (5, 4) and (5, 6); one predicted pixel at
    # (5, 5), 1 px from both and touching neither.
    gt = np.zeros((10, 10), dtype=np.uint8)
    gt[5, 4] = gt[5, 6] = 1
    pred = np.zeros((10, 10), dtype=bool)
    pred[5, 5] = True
    # Greedy: the first target (label order) takes the only prediction.
    assert pd_fa_centroid(pred, gt) == dict(
        num_targets=2, num_detected=1, false_alarm_pixels=0, fa_area=100)
    # rpcanet needs pixel overlap: no target detected, 1 false pixel of 98.
    assert pd_fa_rpcanet(pred, gt) == dict(
        num_targets=2, num_detected=0, false_alarm_pixels=1, fa_area=98)

    # The distance test is strict: exactly 3 px away does not match.
    gt = np.zeros((10, 10), dtype=np.uint8)
    gt[5, 5] = 1
    pred = np.zeros((10, 10), dtype=bool)
    pred[5, 8] = True
    assert pd_fa_centroid(pred, gt)['num_detected'] == 0
    assert pd_fa_centroid(pred, gt, centroid_distance=3.5)['num_detected'] == 1


def test_rpcanet_components_are_8_connected():
    # Two diagonal pixels form ONE target with 8-connectivity.
    gt = np.zeros((5, 5), dtype=np.uint8)
    gt[1, 1] = gt[2, 2] = 1
    pred = np.zeros((5, 5), dtype=bool)
    pred[2, 2] = True
    counts = pd_fa_rpcanet(pred, gt)
    assert counts['num_targets'] == 1 and counts['num_detected'] == 1


def test_summarize_matches_hand_computation():
    record = evaluate_istd_image(*two_target_case())
    metrics = summarize_istd_records([record])
    assert metrics['IoU'] == pytest.approx(100 * 2 / 9)  # TP / (TP+FP+FN)
    assert metrics['Precision'] == pytest.approx(100 * 2 / 6)
    assert metrics['Recall'] == pytest.approx(100 * 2 / 5)
    # F1 = 2 * (1/3) * (2/5) / (1/3 + 2/5) = (4/15) / (11/15) = 4/11
    assert metrics['F1'] == pytest.approx(100 * 4 / 11)
    assert metrics['nIoU'] == pytest.approx(100 * 2 / 9)
    assert metrics['Pd'] == pytest.approx(50.0)
    assert metrics['Fa'] == pytest.approx(1e6 * 4 / 95)
    assert metrics['num_images'] == 1
    # Nothing at all: every guarded ratio is 0, not NaN.
    assert summarize_istd_records([])['IoU'] == 0.0


# ------------------------------------------------------------- ISTDMetric


def test_metric_rpcanet_mode_single_image():
    metrics = run_metric(ISTDMetric(), [two_target_case()])
    assert metrics == dict(
        IoU=22.22,  # 2 / 9
        nIoU=22.22,
        F1=36.36,  # 4 / 11
        Precision=33.33,  # 2 / 6
        Recall=40.0,  # 2 / 5
        Pd=50.0,  # A detected, B missed
        Fa=42105.26,  # 4 / 95 = 0.04210526 -> x 1e6
        num_images=1)


def test_metric_centroid_mode_single_image():
    metrics = run_metric(
        ISTDMetric(pd_fa_mode='centroid'), [two_target_case()])
    # Pixel metrics do not depend on the Pd/Fa mode.
    assert metrics['IoU'] == 22.22 and metrics['F1'] == 36.36
    assert metrics['Pd'] == 50.0
    assert metrics['Fa'] == 30000.0  # 3 / 100


def test_target_free_and_empty_images():
    cases = [two_target_case(), target_free_case(), empty_case()]
    # IoU/P/R/F1: TP=2, FP=4+2=6, FN=3 over all images.
    # nIoU: (2/9 + 0 + 0) / 3 = 0.0741 (the target-free image has union 2
    # and IoU 0; the empty image has union 0 and counts as 0).
    # rpcanet Pd/Fa: images 2 and 3 are skipped -> same as image 1 alone.
    metrics = run_metric(ISTDMetric(), cases)
    assert metrics['IoU'] == 18.18  # 2 / 11
    assert metrics['Precision'] == 25.0  # 2 / 8
    assert metrics['Recall'] == 40.0
    assert metrics['F1'] == 30.77  # 2 * .25 * .4 / .65 = 0.30769
    assert metrics['nIoU'] == 7.41
    assert metrics['Pd'] == 50.0
    assert metrics['Fa'] == 42105.26
    assert metrics['num_images'] == 3

    # Skipping empty unions drops only image 3: (2/9 + 0) / 2.
    metrics = run_metric(ISTDMetric(niou_skip_empty=True), cases)
    assert metrics['nIoU'] == 11.11

    # centroid: the target-free blob (2 px) is a false alarm and every image
    # adds its 100 pixels: (3 + 2 + 0) / 300.
    metrics = run_metric(ISTDMetric(pd_fa_mode='centroid'), cases)
    assert metrics['Pd'] == 50.0
    assert metrics['Fa'] == 16666.67


def test_metric_normalize_none():
    score, gt = two_target_case()
    # Raw threshold 0.5: the 0.6 blob, 0.7, 0.8 and 0.9 pixels all pass and
    # 0.4 does not -> the same mask as with max-normalisation here ...
    assert run_metric(ISTDMetric(normalize='none'),
                      [(score, gt)])['IoU'] == 22.22
    # ... but a weak map (max 0.45) has no positives at all.
    metrics = run_metric(ISTDMetric(normalize='none'), [(score / 2, gt)])
    assert metrics['IoU'] == 0.0 and metrics['Pd'] == 0.0
    assert run_metric(ISTDMetric(), [(score / 2, gt)])['IoU'] == 22.22


def test_eval_size_resizes_prediction_and_mask():
    # GT 20x20 with a 4x4 target at rows/cols 4-7; nearest to 10x10 samples
    # source pixel 2*i, so the target becomes rows/cols 2-3 (4 pixels).
    gt = np.zeros((20, 20), dtype=np.uint8)
    gt[4:8, 4:8] = 1
    # Prediction at 40x40 with the same target at rows/cols 8-15; bilinear
    # to 10x10 reads source rows 4i+1 and 4i+2, i.e. 1 only for i in {2, 3}.
    score = np.zeros((40, 40), dtype=np.float32)
    score[8:16, 8:16] = 1.0
    with pytest.raises(ValueError) as error:
        ISTDMetric().process({}, [as_sample_dict(score, gt, 'a/b.png')])
    message = str(error.value)
    assert 'a/b.png' in message and '(40, 40)' in message
    assert '(20, 20)' in message and 'eval_size' in message

    metric = ISTDMetric(eval_size=(10, 10))
    metric.process({}, [as_sample_dict(score, gt)])
    assert metric.results[0] == dict(
        tp=4,
        fp=0,
        fn=0,
        num_targets=1,
        num_detected=1,
        false_alarm_pixels=0,
        fa_area=96)
    metrics = metric.compute_metrics(metric.results)
    assert metrics['IoU'] == 100.0 and metrics['Fa'] == 0.0
    # An int is a square size.
    assert ISTDMetric(eval_size=256).eval_size == (256, 256)


def test_results_hold_only_plain_numbers():
    metric = ISTDMetric()
    metric.process({}, [as_sample_dict(*two_target_case())])
    record = metric.results[0]
    assert all(type(value) is int for value in record.values())


def test_aggregation_over_several_process_calls():
    cases = [two_target_case(), target_free_case(), empty_case()]
    for mode in ('rpcanet', 'centroid'):
        one_shot = run_metric(ISTDMetric(pd_fa_mode=mode), cases)
        metric = ISTDMetric(pd_fa_mode=mode)
        for index, case in enumerate(cases):
            metric.process({}, [as_sample_dict(*case, f'{index}.png')])
        assert metric.compute_metrics(metric.results) == one_shot


def test_invalid_arguments():
    with pytest.raises(ValueError, match='pd_fa_mode'):
        ISTDMetric(pd_fa_mode='dnanet')
    with pytest.raises(ValueError, match='normalize'):
        ISTDMetric(normalize='minmax')
    with pytest.raises(ValueError, match='eval_size'):
        ISTDMetric(eval_size=(0, 10))


def test_through_mmengine_evaluator():
    init_default_scope('dunseg')
    evaluator = Evaluator(
        METRICS.build(dict(type='ISTDMetric', pd_fa_mode='centroid')))
    samples = []
    for index, (score, gt) in enumerate(
        [two_target_case(),
         target_free_case(),
         empty_case()]):
        sample = DunSegDataSample(metainfo=dict(img_path=f'{index}.png'))
        sample.pred_score = PixelData(data=torch.from_numpy(score)[None])
        sample.gt_mask = PixelData(data=torch.from_numpy(gt)[None])
        samples.append(sample)
    # Two batches, as a test loop would send them.
    evaluator.process(samples[:2], data_batch={})
    evaluator.process(samples[2:], data_batch={})
    metrics = evaluator.evaluate(len(samples))
    assert metrics['IoU'] == 18.18
    assert metrics['nIoU'] == 7.41
    assert metrics['Pd'] == 50.0
    assert metrics['Fa'] == 16666.67
    assert metrics['num_images'] == 3
