"""VL-DUN through the user-facing tools: train, test, demo, 2-process DDP.

A tiny VL-DUN (C = 8, one block per level) with a tiny random-init CLIP
dual prior on 32x32 embedded phantoms (CT radial, MRI Cartesian k-space
undersampling), 2 iterations: seconds per run.
"""
import importlib.util
import math
import os.path as osp
import re
from argparse import Namespace
from pathlib import Path

import cv2
import numpy as np
import pytest

from ..conftest import REPO_ROOT, format_tiny_config
from .test_distributed import run as dist_run
from .test_train_test_demo import latest_metrics, run

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

TINY_VLDUN = """
_base_ = ['{root}/configs/vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py']
img_size = 32
{tiny_clip}
model = dict(
    prior=dict(clip_model=dict(tiny_clip, _delete_=True), input_size=32),
    backbone=dict(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
                  heads=(1, 1, 1, 1), prior_dim=16, tokens_per_prior=1,
                  mamba_cfg=dict(d_state=4, expand=1)),
    seg_head=dict(num_classes=4, channels=8))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
    dataset=dict(num_samples=8, img_size=img_size))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=4, img_size=img_size))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=6, img_size=img_size))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, save_best=None))
randomness = dict(seed=0, deterministic=True)
"""

MODALITIES = ('PhantomCT', 'PhantomMRI')
DEGRADATIONS = ('radial', 'cartesian')
CLASSES = ('background', 'organ', 'wall', 'lesion')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('vldun')
    config = str(tmp / 'tiny_vldun.py')
    with open(config, 'w') as f:
        f.write(format_tiny_config(TINY_VLDUN))
    work_dir = str(tmp / 'work')
    run('tools/train.py', config, '--work-dir', work_dir)
    return config, tmp, osp.join(work_dir, 'iter_2.pth')


@pytest.fixture(scope='module')
def single_test(trained):
    """tools/test.py once: (work dir, metrics)."""
    config, tmp, checkpoint = trained
    work_dir = str(tmp / 'test')
    run('tools/test.py', config, checkpoint, '--work-dir', work_dir,
        '--show-dir', 'vis')
    return work_dir, latest_metrics(work_dir)


@pytest.fixture(scope='module')
def demo_module():
    spec = importlib.util.spec_from_file_location(
        'vldun_image_demo', osp.join(REPO_ROOT, 'demo', 'image_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_logs_joint_losses(trained):
    _, tmp, checkpoint = trained
    assert osp.isfile(checkpoint)
    logs = list((tmp / 'work').glob('*/vis_data/scalars.json'))
    text = logs[0].read_text()
    for key in ('loss_rec', 'loss_seg_ce', 'loss_seg_dice',
                'loss_stage_readout'):
        assert f'"{key}"' in text, key


def test_test_reports_psnr_ssim_per_modality_and_dice(single_test):
    work_dir, metrics = single_test
    assert metrics['num_images'] == 6
    for metric in ('PSNR', 'SSIM'):
        for suffix in ('CT', 'MRI', 'PhantomCT', 'PhantomMRI'):
            assert f'{metric}_{suffix}' in metrics
            assert f'input_{metric}_{suffix}' in metrics
    for key in ('Dice', 'IoU', 'Dice_PhantomCT', 'Dice_PhantomMRI',
                'Dice_PhantomCT/lesion'):
        assert key in metrics, key
    assert 0 <= metrics['Dice'] <= 1
    # zero-initialised Rec. Head: 2 iterations stay near the input
    assert abs(metrics['PSNR_CT'] - metrics['input_PSNR_CT']) < 1.0
    # --show-dir: one drawing per test slice, named by dataset
    vis_dir = next(Path(work_dir).glob('*/vis'))
    pictures = sorted(p.name for p in vis_dir.glob('*.png'))
    assert pictures == [f'PhantomCT_{i}.png' for i in (0, 2, 4)] + \
        [f'PhantomMRI_{i}.png' for i in (1, 3, 5)]


def _parse_recognised(stdout: str, kind: str, classes):
    """'recognised <kind>: A 0.83 (B 0.17)' -> {A: 0.83, B: 0.17}."""
    names = '|'.join(classes)
    match = re.search(
        rf'recognised {kind}: ({names}) (\d\.\d\d) \(({names}) (\d\.\d\d)\)',
        stdout)
    assert match, f'no recognised {kind} line in:\n{stdout}'
    probs = {match.group(1): float(match.group(2)),
             match.group(3): float(match.group(4))}
    assert set(probs) == set(classes)
    assert probs[match.group(1)] >= probs[match.group(3)]
    assert sum(probs.values()) == pytest.approx(1.0, abs=0.011)
    return probs


def _expected_segmentation_panel(config, checkpoint, image):
    """What the segmentation panel must show, computed without the demo."""
    from dunseg.apis import inference_model, init_model
    from dunseg.visualization import class_palette, overlay_classes
    from dunseg.visualization.dunseg_visualizer import to_uint8_image
    model = init_model(config, checkpoint)
    result = inference_model(model, image)
    mask = result.pred_mask.data[0].numpy()
    palette = class_palette(4, model.dataset_meta)
    restored = to_uint8_image(result.pred_image.data)
    return result, overlay_classes(restored, mask, palette)


def test_demo_draws_restoration_segmentation_prior_and_stages(
        trained, tmp_path):
    from dunseg.visualization import TEXT_LINE_HEIGHT
    config, _, checkpoint = trained
    image = osp.join(REPO_ROOT, 'demo', 'demo_ct_undersampled.png')
    out = str(tmp_path / 'demo_ct.png')
    proc = run('demo/image_demo.py', image, config, checkpoint,
               '--out-file', out)
    _parse_recognised(proc.stdout, 'modality', MODALITIES)
    _parse_recognised(proc.stdout, 'degradation', DEGRADATIONS)
    assert re.search(r'segmentation: (\w+ \d+ px(, )?)+|background only',
                     proc.stdout)
    drawing = cv2.cvtColor(cv2.imread(out), cv2.COLOR_BGR2RGB)
    grey = cv2.imread(image, cv2.IMREAD_UNCHANGED)
    h, w = grey.shape  # 128 x 128, one channel
    # input | restored | segmentation; modality, degradation and legend
    # lines; 8 stage images of the input's size
    assert drawing.shape == (h + 3 * TEXT_LINE_HEIGHT + h, 8 * w, 3)
    below_label = slice(20, h)
    # the input panel is the file as read: not undersampled a second time
    np.testing.assert_array_equal(drawing[below_label, :w, 1],
                                  grey[below_label])
    result, seg_panel = _expected_segmentation_panel(config, checkpoint,
                                                     image)
    np.testing.assert_array_equal(result.input_image.data[0].numpy(),
                                  grey.astype(np.float32) / 255)
    assert result.pred_mask.data.dtype.is_floating_point is False
    assert set(np.unique(result.pred_mask.data.numpy())) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(drawing[below_label, 2 * w:3 * w],
                                  seg_panel[below_label])
    # the class colours are there (the restoration is grey)
    restored_panel = drawing[below_label, w:2 * w]
    assert (restored_panel[..., 0] == restored_panel[..., 2]).all()
    seg = drawing[below_label, 2 * w:3 * w].astype(int)
    if result.pred_mask.data.any():
        assert (seg[..., 0] != seg[..., 2]).any()
    band = drawing[h:h + 3 * TEXT_LINE_HEIGHT]
    for line in range(3):  # three lines of text
        rows = band[line * TEXT_LINE_HEIGHT:(line + 1) * TEXT_LINE_HEIGHT]
        assert rows.max() > 128
    stages = drawing[h + 3 * TEXT_LINE_HEIGHT:]
    for k in range(8):  # every stage's image is drawn
        tile = stages[below_label, k * w:(k + 1) * w]
        assert tile.std() > 5


def test_demo_reads_grey_16bit_npy_dicom_and_nifti_slices(
        trained, tmp_path, demo_module, capsys):
    """In-process (one model load each, no interpreter start): a 16-bit
    one-channel phantom slice whose size is no multiple of 8, a CT slice
    from pydicom's CT_small.dcm undersampled into a .npy, the DICOM file
    itself, nibabel's test volume and the undersampled demo MRI slice."""
    import nibabel
    from pydicom.data import get_testdata_file

    from dunseg.datasets import SyntheticPhantomDataset
    from dunseg.datasets.medical import read_medical_slice
    from dunseg.datasets.transforms import KSpaceUndersample
    config, _, checkpoint = trained
    phantom = SyntheticPhantomDataset(
        num_samples=2, img_size=(40, 36), split='test',
        pipeline=[dict(type='KSpaceUndersample', seed=0)])[1]
    png16 = str(tmp_path / 'mri_phantom_16bit.png')
    cv2.imwrite(png16, np.round(np.clip(phantom['img'], 0, 1) *
                                65535).astype(np.uint16))
    dicom = get_testdata_file('CT_small.dcm')
    ct = read_medical_slice(dicom)
    assert ct['modality'] == 'CT' and ct['img'].shape == (128, 128)
    undersampled = KSpaceUndersample(seed=0)(dict(
        gt_img=ct['img'], modality='CT', img_id='CT_small'))
    npy = str(tmp_path / 'ct_small_radial.npy')
    np.save(npy, undersampled['img'])
    nifti = osp.join(osp.dirname(nibabel.__file__), 'tests', 'data',
                     'anatomical.nii')
    mri = osp.join(REPO_ROOT, 'demo', 'demo_mri_undersampled.png')
    sizes = {png16: (40, 36), npy: (128, 128), dicom: (128, 128),
             nifti: (41, 33), mri: (256, 256)}
    for path, (h, w) in sizes.items():
        out = str(tmp_path / (osp.basename(path) + '.png'))
        demo_module.run_demo(Namespace(
            img=path, config=config, checkpoint=checkpoint, out_file=out,
            device='cpu', no_stages=False, kspace_mask=None, slice=None))
        stdout = capsys.readouterr().out
        _parse_recognised(stdout, 'modality', MODALITIES)
        _parse_recognised(stdout, 'degradation', DEGRADATIONS)
        drawing = cv2.imread(out)
        tile = max(h, 64)  # small slices get 64-pixel stage tiles
        assert drawing.shape[0] == h + 48 + tile, path
        assert drawing.shape[1] >= 8 * tile, path


def test_physical_operator_variant_needs_the_sampling_mask(tmp_path):
    """VL-DUN with the known k-space operator cannot guess the mask of an
    already undersampled file: a clear error, or --kspace-mask."""
    from dunseg.apis import inference_model, init_model
    config = str(tmp_path / 'physical.py')
    with open(config, 'w') as f:
        f.write(format_tiny_config(TINY_VLDUN) + (
            "model.update(prior=None, backbone=dict(model['backbone'], "
            'use_prior=False, physical_operator=True))\n'))
    model = init_model(config)  # random init: only the plumbing matters
    image = osp.join(REPO_ROOT, 'demo', 'demo_ct_undersampled.png')
    with pytest.raises(ValueError, match='--kspace-mask'):
        inference_model(model, image)
    with pytest.raises(ValueError, match=r'\(256, 256\) but the image is '
                       r'\(128, 128\)'):
        inference_model(model, image, kspace_mask=osp.join(
            REPO_ROOT, 'demo', 'demo_mri_kspace_mask.png'))
    mask = osp.join(REPO_ROOT, 'demo', 'demo_ct_kspace_mask.png')
    result = inference_model(model, image, kspace_mask=mask)
    assert result.pred_image.shape == (128, 128)
    sampled = cv2.imread(mask, cv2.IMREAD_UNCHANGED) > 0
    np.testing.assert_array_equal(result.kspace_mask.data[0].numpy(),
                                  sampled.astype(np.float32))
    # the demo's mask is the one the demo slice was undersampled with
    from dunseg.physics.undersampling import zero_filled
    clean = cv2.imread(osp.join(REPO_ROOT, 'demo', 'demo_ct.png'),
                       cv2.IMREAD_UNCHANGED).astype(np.float32) / 255
    degraded = cv2.imread(image, cv2.IMREAD_UNCHANGED) / 255
    again = np.clip(zero_filled(clean, sampled.astype(np.float32)), 0, 1)
    assert np.abs(again - degraded).mean() < 0.01


def _same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))


def test_two_process_train_and_test_equal_single_process(trained,
                                                         single_test):
    config, tmp, checkpoint = trained
    work_dir = str(tmp / 'dist_train')
    dist_run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
              work_dir])
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    _, single = single_test
    multi_dir = str(tmp / 'dist_test')
    dist_run(['bash', 'tools/dist_test.sh', config, checkpoint, '2',
              '--work-dir', multi_dir])
    multi = latest_metrics(multi_dir)
    keys = [k for k in single if k not in ('time', 'data_time')]
    assert {'PSNR_CT', 'SSIM_MRI', 'Dice', 'HD95'} <= set(keys)
    different = [k for k in keys if not _same(single[k], multi.get(k))]
    assert not different, {k: (single[k], multi.get(k)) for k in different}
