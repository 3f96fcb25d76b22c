"""CODMetric against values computed independently here."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from dunseg.evaluation.metrics.cod_metric import (
    CODMetric,
    evaluate_cod_image,
    gt_to_uint8,
    prediction_to_uint8,
)
from dunseg.registry import METRICS
from dunseg.structures import DunSegDataSample


def sample(pred, gt, name='set', path='a.png'):
    s = DunSegDataSample(metainfo=dict(dataset_name=name, img_path=path))
    s.gt_mask = PixelData(data=torch.as_tensor(gt, dtype=torch.uint8)[None])
    s.pred_score = PixelData(
        data=torch.as_tensor(pred, dtype=torch.float32)[None])
    return s


def run_metric(samples, **kwargs):
    metric = METRICS.build(dict(type='CODMetric', **kwargs))
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def square_gt(h=20, w=30):
    gt = np.zeros((h, w), np.uint8)
    gt[4:12, 6:18] = 1
    return gt


def test_perfect_and_inverted_predictions():
    gt = square_gt()
    m = run_metric([sample(gt.astype(np.float32), gt)])
    assert m['Sm'] == pytest.approx(1.0)
    assert m['MAE'] == pytest.approx(0.0)
    assert m['wFm'] == pytest.approx(1.0)
    assert m['maxFm'] == pytest.approx(1.0)
    assert m['adpFm'] == pytest.approx(1.0)
    # E-measure divides by (numel - 1), as the MATLAB toolbox: 600/599.
    assert m['maxEm'] == pytest.approx(600 / 599)
    inv = run_metric([sample(1 - gt.astype(np.float32), gt)])
    assert inv['MAE'] == pytest.approx(1.0)
    assert inv['Sm'] < 0.1 and inv['maxFm'] < 0.5


def test_s_measure_trivial_cases():
    h, w = 10, 16
    half = np.zeros((h, w), np.float32)
    half[:, :8] = 1.0
    # No object: S = 1 - mean(pred).
    empty = np.zeros((h, w), np.uint8)
    assert run_metric([sample(half, empty)])['Sm'] == pytest.approx(0.5)
    # Only object: S = mean(pred).
    full = np.ones((h, w), np.uint8)
    quarter = np.zeros((h, w), np.float32)
    quarter[:5, :8] = 1.0
    assert run_metric([sample(quarter, full)])['Sm'] == pytest.approx(0.25)
    # A constant map is normalised to zeros: perfect on an empty mask.
    assert run_metric([sample(np.full((h, w), 0.7), empty)])['Sm'] == \
        pytest.approx(1.0)


def test_mae_follows_the_official_normalisation():
    rng = np.random.default_rng(0)
    gt = square_gt()
    pred = rng.uniform(0.2, 0.7, gt.shape).astype(np.float32)
    # Independently: min-max (+1e-8), rounded to 8 bit (cv2.imwrite of the
    # test scripts), /255, min-max again (the toolbox's mapminmax),
    # mean |p - g|.
    p = (pred.astype(np.float64) - pred.min()) / (pred.max() - pred.min() +
                                                  1e-8)
    p = np.round(p * 255) / 255
    p = (p - p.min()) / (p.max() - p.min())
    expected = np.abs(p - gt).mean()
    assert run_metric([sample(pred, gt)])['MAE'] == pytest.approx(
        expected, abs=1e-9)


def test_f_measure_at_a_threshold_and_adaptive():
    gt = square_gt()
    # 8-bit values chosen by hand: object 200 except one row of 90,
    # background 60 except a 3x3 patch of 220; min 60 -> 0, max 220 -> 255
    # after the normalisation both the test scripts and the toolbox apply.
    pred8 = np.full(gt.shape, 60, np.uint8)
    pred8[gt > 0] = 200
    pred8[4, 6:18] = 90
    pred8[15:18, 25:28] = 220
    record = evaluate_cod_image(pred8, gt_to_uint8(gt))
    p = (pred8 / 255.0 - 60 / 255) / (160 / 255)
    q = (p * 255).astype(np.uint8)  # the toolbox's 256 bins
    g = gt > 0
    for t in (50, 100, 200, 255):
        binary = q >= t
        tp = np.count_nonzero(binary & g)
        prec = tp / max(binary.sum(), 1)
        rec = tp / g.sum()
        f = 0 if tp == 0 else 1.3 * prec * rec / (0.3 * prec + rec)
        assert record['fm_curve'][t] == pytest.approx(f, abs=1e-6), t
        assert record['precision'][t] == pytest.approx(prec, abs=1e-6)
        assert record['recall'][t] == pytest.approx(rec, abs=1e-6)
    thr = min(2 * p.mean(), 1.0)
    binary = p >= thr
    tp = np.count_nonzero(binary & g)
    prec, rec = tp / binary.sum(), tp / g.sum()
    assert record['adpFm'] == pytest.approx(
        1.3 * prec * rec / (0.3 * prec + rec))


def test_prediction_resized_to_ground_truth():
    gt = np.zeros((16, 16), np.uint8)
    gt[:, :8] = 1
    small = np.zeros((8, 8), np.float32)
    small[:, :4] = 1.0
    u8 = prediction_to_uint8(small, gt.shape)
    assert u8.shape == (16, 16)
    # Bilinear, align_corners=False: columns 0-6 stay 255, 9-15 stay 0 and
    # the two around the border blend.
    assert (u8[:, :7] == 255).all() and (u8[:, 9:] == 0).all()
    m = run_metric([sample(small, gt)])
    assert m['MAE'] == pytest.approx(np.abs(u8 / 255.0 - gt).mean(),
                                     abs=1e-9)


def test_per_set_reports_and_mean_over_sets():
    gt = square_gt()
    perfect = gt.astype(np.float32)
    inverted = 1 - perfect
    m = run_metric([
        sample(perfect, gt, 'CAMO', 'a'),
        sample(perfect, gt, 'COD10K', 'b'),
        sample(inverted, gt, 'COD10K', 'c'),
    ])
    assert m['CAMO/MAE'] == pytest.approx(0.0)
    assert m['COD10K/MAE'] == pytest.approx(0.5)
    assert m['COD10K/num_images'] == 2
    # Plain keys: each set weighs the same.
    assert m['MAE'] == pytest.approx(0.25)
    assert set(m) >= {f'CAMO/{k}' for k in ('Sm', 'wFm', 'adpEm', 'meanEm',
                                             'maxEm', 'adpFm', 'meanFm',
                                             'maxFm')}


def test_missing_fields_are_clear_errors():
    metric = CODMetric()
    s = DunSegDataSample(metainfo=dict(img_path='x.png'))
    s.pred_score = PixelData(data=torch.zeros(1, 4, 4))
    with pytest.raises(KeyError, match='LoadCODAnnotations'):
        metric.process(None, [s])
    s.gt_mask = PixelData(data=torch.zeros(1, 4, 4, dtype=torch.uint8))
    s.pred_score = PixelData(data=torch.full((1, 4, 4), float('nan')))
    with pytest.raises(ValueError, match="x.png.*NaN"):
        metric.process(None, [s])
    with pytest.raises(ValueError, match='differ in size'):
        evaluate_cod_image(np.zeros((4, 4), np.uint8),
                           np.zeros((5, 4), np.uint8))


def test_evaluator_over_concat_dataset_reports_each_set():
    """Dataset -> default_collate -> Evaluator(CODMetric): one report per
    dataset_name of a ConcatDataset, as the COD test configs use."""
    from mmengine.dataset import ConcatDataset, default_collate
    from mmengine.evaluator import Evaluator
    from torch.utils.data import DataLoader

    from dunseg.datasets import SyntheticCODDataset
    sets = [
        SyntheticCODDataset(num_samples=3, img_size=(32, 32), split='test',
                            degradation=degradation,
                            pipeline=[dict(type='PackCODInputs')])
        for degradation in (None, dict(kind='haze', level='light'))
    ]
    loader = DataLoader(ConcatDataset(sets), batch_size=2,
                        collate_fn=default_collate)
    evaluator = Evaluator(METRICS.build(dict(type='CODMetric')))
    for batch in loader:
        outputs = []
        for sample in batch['data_samples']:
            out = sample.clone()
            # The perfect prediction on the clean set, an empty one on haze.
            score = sample.gt_mask.data.float()
            if sample.dataset_name != 'SyntheticCOD':
                score = torch.zeros_like(score)
            out.pred_score = PixelData(data=score)
            outputs.append(out)
        evaluator.process(outputs, batch)
    metrics = evaluator.evaluate(len(loader.dataset))
    assert metrics['SyntheticCOD/Sm'] == pytest.approx(1.0)
    assert metrics['SyntheticCOD/num_images'] == 3
    assert metrics['SyntheticCOD-haze-light/num_images'] == 3
    assert metrics['SyntheticCOD-haze-light/MAE'] > 0
    assert metrics['MAE'] == pytest.approx(
        metrics['SyntheticCOD-haze-light/MAE'] / 2)


def test_baselines_are_scored_on_the_same_masks_beside_the_model():
    """The all-zero map's MAE is the object share of each set and its value
    does not depend on the prediction; the centre map is scored as any
    prediction would be (checked against scoring it directly)."""
    from dunseg.evaluation.cod_baselines import centre_gaussian_map
    gt = square_gt()
    other = np.zeros((20, 30), np.uint8)
    other[2:18, 2:28] = 1
    samples = [sample(np.random.rand(20, 30), gt, name='a'),
               sample(gt.astype(np.float32), other, name='b')]
    m = run_metric(samples, baselines=('centre-gaussian', 'all-zero'))
    assert m['a/all-zero/MAE'] == pytest.approx(gt.mean())
    assert m['b/all-zero/MAE'] == pytest.approx(other.mean())
    direct = run_metric([sample(centre_gaussian_map(gt.shape), gt)])
    assert m['a/centre-gaussian/Sm'] == pytest.approx(direct['Sm'])
    assert m['a/centre-gaussian/MAE'] == pytest.approx(direct['MAE'])
    plain = run_metric(samples[:1])
    assert not any('gaussian' in k for k in plain)
    assert plain['a/Sm'] == pytest.approx(m['a/Sm'])
    with pytest.raises(ValueError, match='unknown baselines'):
        METRICS.build(dict(type='CODMetric', baselines=('centre', )))
