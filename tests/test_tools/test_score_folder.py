"""tools/analysis_tools/score_folder.py and dunseg.apis.score_folder: tiny
random-weight models on tmp folders of a few images, every score checked
against a direct computation, every layout error named."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from dunseg.apis import inference_model, init_model
from dunseg.apis.score_folder import (
    PSNR_CAP_DB,
    FolderLayoutError,
    format_report,
    load_model,
    model_region,
    score_folder,
    to_native,
)
from dunseg.datasets.transforms import CenterCropToMultiple, ResizeMedical
from dunseg.engine import MissingCheckpointError
from dunseg.evaluation import (
    COD_BASELINES,
    all_zero_map,
    centre_gaussian_map,
    psnr_ssim,
)
from dunseg.evaluation.metrics.cod_metric import (
    evaluate_cod_folders,
    evaluate_cod_image,
    gt_to_uint8,
    prediction_to_uint8,
)

from ..conftest import REPO_ROOT, write_tiny_config

VLUNET = osp.join(REPO_ROOT, 'configs', 'vlunet',
                  'vlunet_tiny_5k_synthetic-degradation-64x64.py')
NUN = osp.join(REPO_ROOT, 'configs', 'nun',
               'nun_tiny_1k_synthetic-cod-degraded-64x64.py')
VLDUN = osp.join(REPO_ROOT, 'configs', 'vldun',
                 'vldun_tiny_0.6k_synthetic-phantom-64x64.py')
SIZES = ((40, 52), (36, 36), (48, 30))  # (H, W), none the training size


def quiet(line):  # score_folder's per-image log
    pass


def write_folders(root, channels=3, sizes=SIZES, noise=25):
    """degraded/, clean/, masks/ with one picture per size: a smooth scene,
    its noisy copy (seeded) and a rectangle mask."""
    rng = np.random.default_rng(0)
    folders = {k: root / k for k in ('degraded', 'clean', 'masks')}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for i, (h, w) in enumerate(sizes):
        yy, xx = np.mgrid[0:h, 0:w]
        scene = np.stack([120 + 80 * np.sin(xx / 7 + c) * np.cos(yy / 9)
                          for c in range(channels)], axis=2)
        clean = np.clip(scene, 0, 255).astype(np.uint8)
        noisy = np.clip(clean + rng.normal(0, noise, clean.shape), 0,
                        255).astype(np.uint8)
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4:h // 2 + 3, w // 3:w // 3 + 12] = 255
        stem = f'photo_{i}'
        cv2.imwrite(str(folders['clean'] / f'{stem}.png'), clean)
        # the degraded pictures as JPEG-free PNGs under another extension
        # than the masks: matching is by stem
        cv2.imwrite(str(folders['degraded'] / f'{stem}.bmp'), noisy)
        cv2.imwrite(str(folders['masks'] / f'{stem}.png'), mask)
    return {k: str(v) for k, v in folders.items()}


@pytest.fixture(scope='module')
def rpcanet(tmp_path_factory):
    """The tiny RPCANet+ (grey segmentor) and a checkpoint of its init."""
    tmp = tmp_path_factory.mktemp('rpcanet')
    config = write_tiny_config(tmp)
    model = init_model(config)
    checkpoint = str(tmp / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    return config, checkpoint, load_model(config, checkpoint)


@pytest.fixture(scope='module')
def vlunet():
    """The tiny VLU-Net; its initialisation returns the input unchanged
    (zero-initialised output layers), so every weight is nudged (seeded)
    to make a restorer whose output differs from its input."""
    model = load_model(VLUNET, None, random_weights=True)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn(param.shape, generator=generator))
    return model


@pytest.fixture(scope='module')
def nun():
    return load_model(NUN, None, random_weights=True)


# -- the baseline maps --------------------------------------------------


def test_baseline_maps_are_the_definitions():
    h, w = 9, 14
    gauss = centre_gaussian_map((h, w, 3))
    y, x = 6, 2
    expected = np.exp(-(((y - (h - 1) / 2) / (h / 4))**2 +
                        ((x - (w - 1) / 2) / (w / 4))**2) / 2)
    assert gauss.shape == (h, w) and gauss.dtype == np.float32
    assert gauss[y, x] == pytest.approx(expected, rel=1e-6)
    # odd height: the centre row peaks; even width: two centre columns tie
    assert gauss[4, 6] == gauss[4, 7] == gauss.max()
    assert not all_zero_map((h, w)).any()
    assert set(COD_BASELINES) == {'centre-gaussian', 'all-zero'}
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        centre_gaussian_map((0, 5))


def test_baseline_scores_on_a_hand_made_mask():
    """All-zero: MAE = object share and Sα = (1 - share) / 2 (the object
    term sees only the background, which it predicts perfectly; the region
    term is 0 in every quadrant around an object's centroid). Centre
    Gaussian: MAE of its min-max normalised 8-bit map, by hand."""
    gt = np.zeros((40, 50), np.uint8)
    gt[10:25, 10:30] = 1
    share = gt.mean()
    zero = evaluate_cod_image(prediction_to_uint8(all_zero_map(gt.shape)),
                              gt_to_uint8(gt))
    assert zero['MAE'] == pytest.approx(share)
    assert zero['Sm'] == pytest.approx((1 - share) / 2)
    gauss = centre_gaussian_map(gt.shape).astype(np.float64)
    by_hand = np.round((gauss - gauss.min()) /
                       (gauss.max() - gauss.min() + 1e-8) * 255) / 255
    centre = evaluate_cod_image(
        prediction_to_uint8(centre_gaussian_map(gt.shape)), gt_to_uint8(gt))
    assert centre['MAE'] == pytest.approx(np.abs(by_hand - gt).mean(),
                                          abs=1e-6)
    # no object at all: the all-zero map is perfect
    empty = evaluate_cod_image(prediction_to_uint8(all_zero_map((8, 8))),
                               gt_to_uint8(np.zeros((8, 8), np.uint8)))
    assert empty['Sm'] == 1 and empty['MAE'] == 0


def test_experiment_script_uses_the_product_baselines():
    from .test_cod_tools import load_tool
    tool = load_tool('experiments', 'cod_baselines.py')
    img = np.zeros((12, 20, 3), np.float32)
    np.testing.assert_array_equal(tool.PREDICTORS['centre-prior'](img),
                                  centre_gaussian_map((12, 20)))
    np.testing.assert_array_equal(tool.PREDICTORS['all-background'](img),
                                  all_zero_map((12, 20)))


# -- bringing predictions back to the native size ------------------------


def test_model_region_undoes_each_test_pipeline_geometry():
    native = (50, 70)
    assert model_region(native, native, []) == ((0, 0, 50, 70), None)
    # a stretch (ResizeCOD, ResizeISTD): the whole image, resized back
    assert model_region(native, (32, 32), []) == ((0, 0, 50, 70), None)
    # VLU-Net's crop to a multiple of 16: the crop is what is scored
    crop = CenterCropToMultiple(16)
    out = crop(dict(img=np.zeros(native + (3, ), np.float32)))
    assert out['img'].shape[:2] == (48, 64)
    assert model_region(native, (48, 64), [crop]) == ((1, 3, 48, 64), None)
    # VL-DUN's fit-and-pad: the padding is dropped, the rest resized back
    resize = ResizeMedical(32, keep_ratio=True)
    yy, xx = np.mgrid[0:50, 0:70]
    smooth = (0.5 + 0.4 * np.sin(xx / 11) * np.cos(yy / 13)).astype(
        np.float32)
    fitted = resize(dict(img=smooth))['img']
    region, content = model_region(native, fitted.shape, [resize])
    assert region == (0, 0, 50, 70) and content == (4, 0, 23, 32)
    assert not fitted[:4].any() and not fitted[27:].any()
    back = to_native(torch.from_numpy(fitted)[None], region, content)[0]
    assert back.shape == (50, 70)
    assert np.abs(back.numpy() - smooth).mean() < 0.01


# -- restorers ------------------------------------------------------------


def test_restorer_scores_match_a_direct_computation(vlunet, tmp_path):
    folders = write_folders(tmp_path)
    out = tmp_path / 'out'
    results = score_folder(vlunet, folders['degraded'], folders['clean'],
                           out_dir=str(out), log=quiet)
    assert results['predicts'] == ['restoration']
    assert 'random initialisation' in results['weights']
    records = results['images']
    assert [r['image'] for r in records] == ['photo_0', 'photo_1',
                                             'photo_2']
    for record, (h, w) in zip(records, SIZES):
        assert record['native_size_wh'] == [w, h] == record['model_size_wh']
        assert record['no_reference']['mean_abs_change_8bit'] > 0.5
        clean = cv2.imread(record['clean'])[..., ::-1] / 255.0
        noisy = cv2.imread(record['degraded'])[..., ::-1] / 255.0
        restored = inference_model(vlunet, record['degraded']).pred_image
        psnr, ssim = psnr_ssim(restored.data, clean.transpose(2, 0, 1))
        in_psnr, in_ssim = psnr_ssim(noisy.transpose(2, 0, 1),
                                     clean.transpose(2, 0, 1))
        scores = record['restoration']
        assert scores['PSNR'] == pytest.approx(psnr)
        assert scores['SSIM'] == pytest.approx(ssim)
        assert scores['input_PSNR'] == pytest.approx(in_psnr)
        assert scores['input_SSIM'] == pytest.approx(in_ssim)
        saved = cv2.imread(record['restored'])
        assert saved.shape == (h, w, 3)
    summary = results['summary']['restoration']
    assert summary['PSNR'] == pytest.approx(
        np.mean([r['restoration']['PSNR'] for r in records]))
    worse = sum(r['restoration']['PSNR'] < r['restoration']['input_PSNR']
                for r in records)
    assert summary['worse_than_input_PSNR'] == worse
    on_disk = json.loads((out / 'scores.json').read_text())
    assert on_disk['summary'] == json.loads(json.dumps(results['summary']))
    report = format_report(results)
    assert 'input (degraded)' in report and f'{worse} of 3 (PSNR)' in report


def test_clean_images_given_as_degraded_score_the_capped_psnr(vlunet,
                                                               tmp_path):
    """Identity check: the input equals its reference, an infinite PSNR,
    reported as 100 dB (and flagged), so the means stay numbers and the
    JSON is standard (no Infinity)."""
    folders = write_folders(tmp_path)
    results = score_folder(vlunet, folders['clean'], folders['clean'],
                           out_dir=str(tmp_path / 'out'), log=quiet)
    for record in results['images']:
        scores = record['restoration']
        assert scores['input_PSNR'] == PSNR_CAP_DB
        assert scores['input_SSIM'] == pytest.approx(1.0)
        assert scores['input_identical_to_clean'] is True
        assert np.isfinite(scores['PSNR']) and scores['PSNR'] < PSNR_CAP_DB
    summary = results['summary']['restoration']
    assert summary['input_PSNR'] == PSNR_CAP_DB
    assert summary['inputs_identical_to_clean'] == 3
    # a random restorer changes a perfect input: every image got worse
    assert summary['worse_than_input_PSNR'] == 3
    text = (tmp_path / 'out' / 'scores.json').read_text()
    assert 'Infinity' not in text and 'NaN' not in text
    assert '3 input(s) equal their clean image' in format_report(results)


# -- segmentors -----------------------------------------------------------


def test_segmentor_scores_beside_the_baselines(rpcanet, tmp_path):
    _, _, model = rpcanet
    folders = write_folders(tmp_path, channels=1)
    out = tmp_path / 'out'
    results = score_folder(model, folders['degraded'],
                           masks_dir=folders['masks'], out_dir=str(out),
                           log=quiet)
    assert results['predicts'] == ['segmentation']
    records = results['images']
    for record, (h, w) in zip(records, SIZES):
        gt = gt_to_uint8(cv2.imread(record['mask'], 0) > 0)
        score = inference_model(model, record['degraded']).pred_score.data
        direct = evaluate_cod_image(prediction_to_uint8(score, gt.shape), gt)
        assert record['segmentation']['model']['Sm'] == pytest.approx(
            direct['Sm'])
        assert record['segmentation']['model']['MAE'] == pytest.approx(
            direct['MAE'])
        zero = record['segmentation']['all-zero']
        assert zero['MAE'] == pytest.approx((gt > 0).mean())
        saved = cv2.imread(record['score_map'], cv2.IMREAD_UNCHANGED)
        assert saved.shape == (h, w) and saved.dtype == np.uint8
    summary = results['summary']['segmentation']
    assert set(summary) == {'model', 'centre-gaussian', 'all-zero',
                            'num_images'}
    # the saved maps are what eval_cod.py scores: the same figures
    from_files = evaluate_cod_folders(str(out / 'masks'), folders['masks'])
    for key in ('Sm', 'MAE', 'maxFm', 'meanEm'):
        assert from_files[key] == pytest.approx(summary['model'][key])
    report = format_report(results)
    assert 'centre-gaussian' in report and 'all-zero' in report


def test_resized_model_input_is_scored_at_the_native_size(tmp_path):
    """A config whose test pipeline resizes (as the COD10K configs do, to
    352x352): the model runs at 32x32, the scores and maps are native."""
    config = tmp_path / 'resized_rpcanet.py'
    config.write_text(
        f"_base_ = ['{write_tiny_config(tmp_path)}']\n"
        "test_dataloader = dict(dataset=dict(pipeline=[\n"
        "    dict(type='ResizeISTD', scale=(32, 32)),\n"
        "    dict(type='PackISTDInputs')]))\n")
    model = load_model(str(config), None, random_weights=True)
    folders = write_folders(tmp_path / 'data', channels=1)
    results = score_folder(model, folders['degraded'],
                           masks_dir=folders['masks'],
                           out_dir=str(tmp_path / 'out'), log=quiet)
    for record, (h, w) in zip(results['images'], SIZES):
        assert record['model_size_wh'] == [32, 32]
        assert record['scored_region'] == dict(top=0, left=0, height=h,
                                               width=w)
        assert cv2.imread(record['score_map'], 0).shape == (h, w)
        gt = gt_to_uint8(cv2.imread(record['mask'], 0) > 0)
        score = inference_model(model, record['degraded']).pred_score.data
        assert score.shape[-2:] == (32, 32)
        direct = evaluate_cod_image(prediction_to_uint8(score, (h, w)), gt)
        assert record['segmentation']['model']['Sm'] == pytest.approx(
            direct['Sm'])


def test_a_cropping_restorer_is_scored_on_its_crop(vlunet, tmp_path):
    """VLU-Net's published configs crop to a multiple of 16: the output
    covers the centred crop, and the input is scored on the same crop."""
    config = tmp_path / 'cropping_vlunet.py'
    config.write_text(
        f"_base_ = ['{VLUNET}']\n"
        "test_dataloader = dict(dataset=dict(pipeline=[\n"
        "    dict(type='CenterCropToMultiple', base=16),\n"
        "    dict(type='PackRestorationInputs')]))\n")
    model = load_model(str(config), None, random_weights=True)
    model.load_state_dict(vlunet.state_dict())
    folders = write_folders(tmp_path / 'data')
    results = score_folder(model, folders['degraded'], folders['clean'],
                           out_dir=str(tmp_path / 'out'), log=quiet)
    record = results['images'][0]  # 40x52 -> 32x48
    assert record['model_size_wh'] == [48, 32]
    assert record['scored_region'] == dict(top=4, left=2, height=32,
                                           width=48)
    clean = cv2.imread(record['clean'])[4:36, 2:50, ::-1] / 255.0
    noisy = cv2.imread(record['degraded'])[4:36, 2:50, ::-1] / 255.0
    restored = inference_model(model, record['degraded']).pred_image.data
    assert record['restoration']['PSNR'] == pytest.approx(
        psnr_ssim(restored, clean.transpose(2, 0, 1))[0])
    assert record['restoration']['input_PSNR'] == pytest.approx(
        psnr_ssim(noisy.transpose(2, 0, 1), clean.transpose(2, 0, 1))[0])
    assert cv2.imread(record['restored']).shape == (32, 48, 3)
    with pytest.raises(ValueError, match='--model-size 40 40 is cropped to '
                       '32 32 .* e.g. --model-size 32 32'):
        score_folder(model, folders['degraded'], model_size=(40, 40),
                     log=quiet)


def test_model_size_feeds_the_training_size_and_scores_natively(
        nun, tmp_path):
    """--model-size 32 32: every picture reaches the model at 32x32 (the
    tiny configs run at the native size otherwise); the restoration and
    the score map come back to the native size and are scored there."""
    folders = write_folders(tmp_path)
    results = score_folder(nun, folders['degraded'], folders['clean'],
                           folders['masks'], out_dir=str(tmp_path / 'out'),
                           model_size=(32, 32), log=quiet)
    assert results['model_size_hw'] == [32, 32]
    for record, (h, w) in zip(results['images'], SIZES):
        assert record['model_size_wh'] == [32, 32]
        assert record['native_size_wh'] == [w, h]
        restored = cv2.imread(record['restored'])[..., ::-1] / 255.0
        assert restored.shape == (h, w, 3)
        clean = cv2.imread(record['clean'])[..., ::-1] / 255.0
        psnr = psnr_ssim(restored.transpose(2, 0, 1),
                         clean.transpose(2, 0, 1))[0]
        # the saved PNG is the scored image rounded to 8 bits
        assert record['restoration']['PSNR'] == pytest.approx(psnr, abs=0.05)
        assert cv2.imread(record['score_map'], 0).shape == (h, w)
    with pytest.raises(ValueError, match='--model-size is for image models'):
        score_folder(load_model(VLDUN, None, random_weights=True),
                     folders['degraded'], model_size=(32, 32), log=quiet)


def test_restorer_and_segmentor_with_stage_grids(nun, tmp_path):
    folders = write_folders(tmp_path)
    out = tmp_path / 'out'
    results = score_folder(nun, folders['degraded'], folders['clean'],
                           folders['masks'], out_dir=str(out), grid=True,
                           log=quiet)
    assert results['predicts'] == ['restoration', 'segmentation']
    assert {'restoration', 'segmentation'} <= set(results['summary'])
    for record, (h, w) in zip(results['images'], SIZES):
        grid = cv2.imread(record['grid'])
        # input | score | prediction | restored, then a row per stage
        # state and the DeRUN iterates below
        assert grid.shape[0] > 3 * max(h, 64) and grid.shape[1] >= 3 * w
        assert record['grid'] == str(out / 'grids' / f'{record["image"]}'
                                     '.png')


def test_without_references_outputs_are_saved(nun, tmp_path):
    folders = write_folders(tmp_path)
    results = score_folder(nun, folders['degraded'],
                           out_dir=str(tmp_path / 'out'), log=quiet)
    assert set(results['summary']) == {'num_images'}
    for record in results['images']:
        assert set(record['no_reference']) >= {'mean_abs_change_8bit',
                                               'object_share'}
        assert osp.isfile(record['restored'])
        assert osp.isfile(record['score_map'])
    assert 'no reference given' in format_report(results)


def test_multi_class_segmentation_is_dice_against_class_masks(tmp_path):
    """VL-DUN (grey slices, 4 classes): a mask of class indices; Dice of
    the model's own labels against themselves is 1 for every class it
    predicts."""
    model = load_model(VLDUN, None, random_weights=True)
    folders = write_folders(tmp_path, channels=1, sizes=SIZES[:2])
    first = score_folder(model, folders['degraded'],
                         out_dir=str(tmp_path / 'first'), log=quiet)
    self_masks = tmp_path / 'self_masks'
    self_masks.mkdir()
    for record in first['images']:
        labels = cv2.imread(record['class_map'], cv2.IMREAD_UNCHANGED)
        assert labels.max() < 4
        cv2.imwrite(str(self_masks / f'{record["image"]}.png'), labels)
    results = score_folder(model, folders['degraded'], folders['clean'],
                           str(self_masks), out_dir=str(tmp_path / 'out'),
                           log=quiet)
    assert results['predicts'] == ['multi-class segmentation',
                                   'restoration']
    for record in results['images']:
        dice = record['multi_class_segmentation']['dice']
        assert all(v is None or v == pytest.approx(1.0) for v in dice)
    assert 'foreground Dice' in format_report(results)
    bad = tmp_path / 'bad_masks'
    bad.mkdir()
    for stem in ('photo_0', 'photo_1'):
        h, w = SIZES[int(stem[-1])]
        cv2.imwrite(str(bad / f'{stem}.png'),
                    np.full((h, w), 255, np.uint8))
    with pytest.raises(FolderLayoutError, match='value 255 but the model '
                       'has 4 classes'):
        score_folder(model, folders['degraded'], masks_dir=str(bad),
                     log=quiet)


# -- weights ----------------------------------------------------------------


def test_random_weights_only_on_purpose(rpcanet):
    config, checkpoint, _ = rpcanet
    with pytest.raises(MissingCheckpointError, match='--random-weights'):
        load_model(config, None)
    assert load_model(config, None, random_weights=True).random_weights
    assert not load_model(config, checkpoint).random_weights


# -- layout errors ------------------------------------------------------------


def test_missing_empty_and_non_folder_paths(rpcanet, tmp_path):
    _, _, model = rpcanet
    with pytest.raises(FileNotFoundError, match=r"--degraded '.*nowhere'.*"
                       'not found'):
        score_folder(model, str(tmp_path / 'nowhere'), log=quiet)
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('no images here')
    with pytest.raises(FolderLayoutError, match='holds no image file'):
        score_folder(model, str(tmp_path / 'empty'), log=quiet)
    (tmp_path / 'a_file.png').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='a file, not a folder'):
        score_folder(model, str(tmp_path / 'a_file.png'), log=quiet)
    folders = write_folders(tmp_path / 'data', channels=1)
    with pytest.raises(FileNotFoundError, match='--masks'):
        score_folder(model, folders['degraded'],
                     masks_dir=str(tmp_path / 'no_masks'), log=quiet)


def test_unmatched_stems_are_listed(vlunet, tmp_path):
    folders = write_folders(tmp_path)
    os.remove(osp.join(folders['clean'], 'photo_0.png'))
    os.remove(osp.join(folders['clean'], 'photo_2.png'))
    with pytest.raises(FolderLayoutError,
                       match=r"2 of 3 .* --clean '.*': photo_0, photo_2;"):
        score_folder(vlunet, folders['degraded'], folders['clean'],
                     log=quiet)


def test_two_files_of_one_stem_are_refused(vlunet, tmp_path):
    folders = write_folders(tmp_path)
    cv2.imwrite(osp.join(folders['degraded'], 'photo_1.png'),
                np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FolderLayoutError,
                       match='photo_1.bmp / photo_1.png'):
        score_folder(vlunet, folders['degraded'], log=quiet)


def test_size_mismatches_name_both_files(vlunet, rpcanet, tmp_path):
    folders = write_folders(tmp_path)
    cv2.imwrite(osp.join(folders['clean'], 'photo_1.png'),
                np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(FolderLayoutError,
                       match=r'photo_1.png.* is 30x20 .*photo_1.bmp.* is '
                       r'36x36'):
        score_folder(vlunet, folders['degraded'], folders['clean'],
                     log=quiet)
    cv2.imwrite(osp.join(folders['masks'], 'photo_2.png'),
                np.zeros((10, 10), np.uint8))
    with pytest.raises(FolderLayoutError,
                       match=r'mask .*photo_2.png.* is 10x10 .* 30x48'):
        score_folder(rpcanet[2], folders['degraded'],
                     masks_dir=folders['masks'], log=quiet)


def test_a_grey_level_mask_is_refused(rpcanet, tmp_path):
    folders = write_folders(tmp_path, channels=1)
    h, w = SIZES[0]
    soft = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    cv2.imwrite(osp.join(folders['masks'], 'photo_0.png'), soft)
    with pytest.raises(FolderLayoutError, match=r'photo_0.png.* is not '
                       r'binary: \d+ grey levels .*JPEG'):
        score_folder(rpcanet[2], folders['degraded'],
                     masks_dir=folders['masks'], log=quiet)


def test_references_the_model_cannot_use(vlunet, rpcanet, tmp_path):
    folders = write_folders(tmp_path)
    with pytest.raises(FolderLayoutError, match='restores nothing'):
        score_folder(rpcanet[2], folders['degraded'], folders['clean'],
                     log=quiet)
    with pytest.raises(FolderLayoutError, match='predicts no mask'):
        score_folder(vlunet, folders['degraded'],
                     masks_dir=folders['masks'], log=quiet)


# -- the command line ---------------------------------------------------------

ENV = dict(os.environ, PYTHONPATH=REPO_ROOT, HF_HUB_OFFLINE='1',
           OMP_NUM_THREADS='1')
TOOL = 'tools/analysis_tools/score_folder.py'


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], cwd=REPO_ROOT,
                          env=ENV, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_command_line_scores_with_a_checkpoint(rpcanet, tmp_path):
    config, checkpoint, _ = rpcanet
    folders = write_folders(tmp_path, channels=1)
    out = tmp_path / 'out'
    proc = run_tool(config, checkpoint, '--degraded', folders['degraded'],
                    '--masks', folders['masks'], '--out-dir', str(out),
                    '--grid')
    assert proc.returncode == 0, proc.stderr
    assert 'centre-gaussian' in proc.stdout and 'all-zero' in proc.stdout
    scores = json.loads((out / 'scores.json').read_text())
    assert scores['weights'] == 'checkpoint'
    assert len(os.listdir(out / 'grids')) == 3


def test_command_line_errors_are_one_line(rpcanet, tmp_path):
    """In process: main() exits with the message alone (no traceback)."""
    from .test_cod_tools import load_tool
    tool = load_tool('analysis_tools', 'score_folder.py')
    config, checkpoint, _ = rpcanet
    folders = write_folders(tmp_path, channels=1)
    for args, name in (
            ([config, checkpoint, '--degraded', str(tmp_path / 'nope')],
             'nope'),
            ([config, '--degraded', folders['degraded']], '--random-weights'),
            ([config, checkpoint, '--degraded', folders['degraded'],
              '--clean', folders['clean']], 'restores nothing'),
            ([config, checkpoint, '--degraded', folders['degraded'],
              '--model-size', '3', '64'], 'at least 7 pixels')):
        with pytest.raises(SystemExit) as exit_info:
            tool.main(args + ['--out-dir', str(tmp_path / 'err')])
        message = str(exit_info.value.code)
        assert message.startswith(f'{TOOL}: ') and name in message, message
        assert '\n' not in message
