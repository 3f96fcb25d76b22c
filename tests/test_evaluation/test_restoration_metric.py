import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dunseg.evaluation.metrics import (
    RestorationMetric,
    center_crop_to_multiple,
    psnr_ssim,
    rgb_to_y,
)


def _pair(seed, shape=(3, 40, 50), noise=0.05):
    rng = np.random.default_rng(seed)
    gt = rng.random(shape).astype(np.float32)
    pred = np.clip(gt + rng.normal(0, noise, shape), 0, 1).astype(np.float32)
    return torch.from_numpy(pred), torch.from_numpy(gt)


def test_psnr_ssim_matches_skimage_on_rgb():
    pred, gt = _pair(0)
    psnr, ssim = psnr_ssim(pred, gt)
    p, g = pred.numpy().transpose(1, 2, 0), gt.numpy().transpose(1, 2, 0)
    assert psnr == pytest.approx(
        peak_signal_noise_ratio(g.astype(np.float64), p.astype(np.float64),
                                data_range=1.0), rel=1e-6)
    assert ssim == pytest.approx(
        structural_similarity(g.astype(np.float64), p.astype(np.float64),
                              data_range=1.0, channel_axis=2), rel=1e-6)


def test_known_psnr_value_and_clamping():
    gt = torch.full((3, 16, 16), 0.5)
    pred = gt + 0.1  # MSE = 0.01 -> 20 dB
    assert psnr_ssim(pred, gt)[0] == pytest.approx(20.0, abs=1e-4)
    # out-of-range predictions are clamped like the official torch.clamp
    over = torch.full((3, 16, 16), 1.5)
    assert psnr_ssim(over, torch.ones(3, 16, 16))[0] == 100.0  # capped


def test_center_crop_to_multiple_is_the_official_crop():
    img = np.arange(321 * 481).reshape(321, 481)
    out = center_crop_to_multiple(img, 16)
    assert out.shape == (320, 480)
    assert out[0, 0] == img[0, 0]  # 1-pixel remainder goes to bottom/right
    assert center_crop_to_multiple(np.zeros((37, 35)), 16).shape == (32, 32)


def test_y_channel_formula_and_score():
    white = np.ones((2, 2, 3))
    black = np.zeros((2, 2, 3))
    assert rgb_to_y(white) == pytest.approx(np.full((2, 2), 235 / 255))
    assert rgb_to_y(black) == pytest.approx(np.full((2, 2), 16 / 255))
    pred, gt = _pair(1)
    psnr_y, _ = psnr_ssim(pred, gt, test_y_channel=True)
    psnr_rgb, _ = psnr_ssim(pred, gt)
    assert psnr_y != pytest.approx(psnr_rgb)


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match='differs'):
        psnr_ssim(torch.zeros(3, 8, 8), torch.zeros(3, 8, 9))
    with pytest.raises(ValueError, match='C, H, W'):
        psnr_ssim(torch.zeros(4, 8, 8), torch.zeros(4, 8, 8))


def _sample(pred, gt, degraded, degradation):
    return dict(
        pred_image=dict(data=pred), gt_image=dict(data=gt),
        input_image=dict(data=degraded), degradation=degradation,
        img_path=f'{degradation}.png')


def test_metric_breaks_down_by_degradation_and_scores_the_input():
    metric = RestorationMetric()
    expected = {}
    for i, name in enumerate(['derain', 'derain', 'dehaze']):
        pred, gt = _pair(i, noise=0.02)
        degraded, _ = _pair(i + 10, noise=0.2)
        degraded = gt + (degraded - gt)
        metric.process({}, [_sample(pred, gt, degraded, name)])
        expected.setdefault(name, []).append(psnr_ssim(pred, gt)[0])
    results = metric.compute_metrics(metric.results)
    assert results['num_images'] == 3
    assert results['PSNR_derain'] == pytest.approx(
        np.mean(expected['derain']), abs=0.01)
    assert results['PSNR_dehaze'] == pytest.approx(
        expected['dehaze'][0], abs=0.01)
    all_psnr = expected['derain'] + expected['dehaze']
    assert results['PSNR'] == pytest.approx(np.mean(all_psnr), abs=0.01)
    assert results['input_PSNR'] < results['PSNR']
    assert 'input_PSNR_dehaze' in results and 'SSIM_derain' in results


def test_metric_requires_predictions_and_clean_images():
    metric = RestorationMetric()
    with pytest.raises(KeyError, match='pred_image'):
        metric.process({}, [dict(gt_image=dict(data=torch.zeros(3, 4, 4)))])
    with pytest.raises(KeyError, match='gt_image'):
        metric.process({}, [dict(pred_image=dict(data=torch.zeros(3, 4, 4)))])


def test_metric_groups_by_test_set_and_degradation():
    metric = RestorationMetric(with_input_baseline=False)
    for i, (name, sigma) in enumerate([('CBSD68', 'denoise_15'),
                                       ('CBSD68', 'denoise_25'),
                                       ('Urban100', 'denoise_25'),
                                       ('Rain100L', 'derain')]):
        pred, gt = _pair(i)
        sample = dict(pred_image=dict(data=pred), gt_image=dict(data=gt),
                      degradation=sigma, dataset_name=name)
        metric.process({}, [sample])
    results = metric.compute_metrics(metric.results)
    assert 'PSNR_CBSD68/denoise_15' in results
    assert 'PSNR_Urban100/denoise_25' in results
    assert 'PSNR_Rain100L/derain' in results
    assert 'PSNR_denoise_25' in results and 'input_PSNR' not in results
    assert results['num_images'] == 4


def test_recognition_breakdown_splits_recognised_and_misread_images():
    metric = RestorationMetric(recognition_breakdown=True)
    psnrs = {}
    for i, recognised_as in enumerate(['deblur', 'deblur', 'dehaze']):
        pred, gt = _pair(i, noise=0.02 if recognised_as == 'deblur' else 0.3)
        sample = _sample(pred, gt, gt, 'deblur')
        sample['pred_degradation'] = recognised_as
        metric.process({}, [sample])
        psnrs.setdefault(recognised_as, []).append(psnr_ssim(pred, gt)[0])
    results = metric.compute_metrics(metric.results)
    assert results['num_images_deblur/recognised'] == 2
    assert results['num_images_deblur/misread'] == 1
    assert results['PSNR_deblur/recognised'] == pytest.approx(
        np.mean(psnrs['deblur']), abs=0.01)
    assert results['PSNR_deblur/misread'] == pytest.approx(
        psnrs['dehaze'][0], abs=0.01)
    assert 'input_PSNR_deblur/misread' in results
    # the type's own row still holds all three images
    assert results['PSNR_deblur'] == pytest.approx(
        np.mean(psnrs['deblur'] + psnrs['dehaze']), abs=0.01)

    with pytest.raises(KeyError, match='pred_degradation'):
        pred, gt = _pair(0)
        metric.process({}, [_sample(pred, gt, gt, 'deblur')])


def test_recognition_breakdown_reports_a_vocabulary_mismatch():
    metric = RestorationMetric(recognition_breakdown=True)
    for name, predicted in [('deblur', 'image with blur'),
                            ('derain', 'image with rain')]:
        pred, gt = _pair(0)
        sample = _sample(pred, gt, gt, name)
        sample['pred_degradation'] = predicted
        metric.process({}, [sample])
    with pytest.raises(ValueError, match='prior_classes'):
        metric.compute_metrics(metric.results)


def test_missing_clean_images_skipped_only_when_asked():
    import pytest
    import torch

    from dunseg.evaluation.metrics import RestorationMetric
    clean = torch.rand(3, 8, 8)
    scored = dict(pred_image=dict(data=clean), gt_image=dict(data=clean),
                  img_path='a.png', degradation='haze')
    unscored = dict(pred_image=dict(data=clean), img_path='b.png')
    with pytest.raises(KeyError, match='no gt_image for b.png'):
        RestorationMetric().process(None, [unscored])
    metric = RestorationMetric(missing_gt='skip')
    metric.process(None, [scored, unscored])
    metrics = metric.compute_metrics(metric.results)
    assert metrics['num_images'] == 1
    assert metrics['num_images_without_gt'] == 1
    assert metrics['PSNR'] > 60  # the one scored image is perfect
    # a clean-only set (e.g. validation on clean images) scores nothing
    assert metric.compute_metrics([dict(without_gt=True)]) == dict(
        num_images=0, num_images_without_gt=1)


def test_an_exact_copy_scores_the_psnr_cap_not_infinity():
    from dunseg.evaluation.metrics.restoration_metric import (
        MAX_PSNR,
        psnr_ssim,
    )
    img = torch.rand(3, 16, 16)
    psnr, ssim = psnr_ssim(img, img.clone())
    assert psnr == MAX_PSNR == 100.0 and ssim == pytest.approx(1.0)
    assert psnr_ssim(img * 0.9, img)[0] < 40
