"""Tests of the training-free classical detectors."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from dunseg.evaluation import ISTDMetric, binarize_prediction, pd_fa_rpcanet
from dunseg.models.classical import (
    LocalContrastDetector,
    TopHatDetector,
    grey_dilation,
    grey_erosion,
    white_top_hat,
)
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

TARGET_CENTRES = ((14, 14), (48, 16))
BLOB_CENTRE, BLOB_RADIUS = (38, 44), 12


def synthetic_scene(seed: int = 0):
    """A 64x64 infrared-like scene and its target mask.

    Smooth background (ramp + slow ripple), two small Gaussian targets
    (sigma 1 and 1.5 px, amplitudes 0.3 and 0.25), one large bright blob
    (radius 12 px, soft edge, amplitude 0.5 -- the brightest structure, so
    plain thresholding would pick it) and a little Gaussian noise.

    Returns:
        tuple: image (1, 64, 64) float in [0, 1], target mask (64, 64) uint8
        and blob mask (64, 64) bool (the blob plus a 3 px margin).
    """
    generator = torch.Generator().manual_seed(seed)
    rows, cols = torch.meshgrid(
        torch.arange(64.), torch.arange(64.), indexing='ij')
    image = 0.2 + 0.15 * cols / 63 + 0.05 * torch.sin(rows / 10)
    target_mask = torch.zeros(64, 64, dtype=torch.bool)
    for (row, col), sigma, amplitude in zip(TARGET_CENTRES, (1.0, 1.5),
                                            (0.3, 0.25)):
        squared_distance = (rows - row)**2 + (cols - col)**2
        image += amplitude * torch.exp(-squared_distance / (2 * sigma**2))
        target_mask |= squared_distance <= 2 * sigma**2
    blob_distance = torch.sqrt((rows - BLOB_CENTRE[0])**2 +
                               (cols - BLOB_CENTRE[1])**2)
    image += 0.5 * torch.sigmoid((BLOB_RADIUS - blob_distance) / 1.5)
    image += 0.01 * torch.randn(64, 64, generator=generator)
    blob_mask = blob_distance <= BLOB_RADIUS + 3
    return (image.clamp(0, 1)[None], target_mask.numpy().astype(np.uint8),
            blob_mask.numpy())


def make_sample(target_mask, img_path='scene.png'):
    sample = DunSegDataSample(
        metainfo=dict(img_path=img_path, ori_shape=target_mask.shape))
    sample.gt_mask = PixelData(data=torch.from_numpy(target_mask)[None])
    return sample


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_top_hat_hits_both_targets_and_not_the_blob(seed):
    image, target_mask, blob_mask = synthetic_scene(seed)
    # Sanity: the blob is the brightest structure of the scene.
    assert image[0][torch.from_numpy(blob_mask)].max() == image.max()

    score = TopHatDetector()(image[None], mode='tensor')
    assert score.shape == (1, 1, 64, 64)
    assert 0 <= score.min() and score.max() <= 1
    # The metric's default binarisation (max-normalised, > 0.5).
    detected = binarize_prediction(score[0, 0].numpy())
    counts = pd_fa_rpcanet(detected, target_mask)
    assert counts['num_targets'] == 2 and counts['num_detected'] == 2
    assert not (detected & blob_mask).any()
    # Only a few pixels around the targets are false alarms.
    assert counts['false_alarm_pixels'] <= 15


def test_local_contrast_detects_both_targets():
    image, target_mask, _ = synthetic_scene()
    score = LocalContrastDetector()(image[None], mode='tensor')
    detected = binarize_prediction(score[0, 0].numpy())
    counts = pd_fa_rpcanet(detected, target_mask)
    assert counts['num_detected'] == counts['num_targets'] == 2


def test_morphology_helpers():
    image = torch.zeros(1, 1, 9, 9)
    image[0, 0, 4, 4] = 1.0
    # A single bright pixel grows into the structuring element ...
    assert grey_dilation(image, 1, 'square').sum() == 9
    assert grey_dilation(image, 2, 'disk').sum() == 13  # digital disk r=2
    # ... and disappears under erosion; the top-hat keeps it whole.
    assert grey_erosion(image, 1).sum() == 0
    assert torch.equal(white_top_hat(image, 1), image)
    # A structure the element fits into everywhere survives the opening, so
    # its top-hat is 0. A square works for the square element; for the disk
    # use a square dilated by the disk (X dilated by B is always B-open).
    seed = torch.zeros(1, 1, 12, 12)
    seed[..., 4:7, 4:7] = 1.0
    for footprint in ('square', 'disk'):
        plateau = grey_dilation(seed, 2, footprint)
        assert plateau.sum() > 25
        assert white_top_hat(plateau, 2, footprint).abs().max() == 0
    # The disk erases the corners of a square plateau: a small residue.
    square_plateau = grey_dilation(seed, 2, 'square')
    assert white_top_hat(square_plateau, 2, 'disk').sum() > 0
    # The border is not treated as dark: a constant image is unchanged.
    constant = torch.full((1, 1, 5, 5), 0.7)
    assert torch.equal(grey_erosion(constant, 2), constant)


@pytest.mark.parametrize('detector_type',
                         [TopHatDetector, LocalContrastDetector])
def test_predict_returns_data_samples(detector_type):
    image, target_mask, _ = synthetic_scene()
    samples = [
        make_sample(target_mask, 'a.png'),
        make_sample(target_mask, 'b.png')
    ]
    batch = torch.stack([image, image.flip(-1)])
    outputs = detector_type()(batch, samples, mode='predict')
    assert len(outputs) == 2
    for output, source in zip(outputs, samples):
        assert isinstance(output, DunSegDataSample)
        assert output.img_path == source.img_path
        assert torch.equal(output.gt_mask.data, source.gt_mask.data)
        assert output.pred_score.data.shape == (1, 64, 64)
        assert output.pred_score.data.dtype == torch.float32
        assert output.pred_mask.data.shape == (1, 64, 64)
        assert output.pred_mask.data.dtype == torch.uint8
        # pred_mask is the metric's default binarisation of pred_score.
        expected = binarize_prediction(output.pred_score.data[0].numpy())
        np.testing.assert_array_equal(output.pred_mask.data[0].numpy(),
                                      expected)
    # Without data samples: fresh samples with predictions only.
    outputs = detector_type()(batch, mode='predict')
    assert len(outputs) == 2 and 'gt_mask' not in outputs[0]


def test_test_step_with_a_batch_dict():
    init_default_scope('dunseg')
    model = MODELS.build(dict(type='TopHatDetector', radius=5))
    image, target_mask, _ = synthetic_scene()
    # As a dataloader delivers it: a list of (C, H, W) images (here RGB,
    # uint8) and a list of data samples.
    rgb_uint8 = (image.repeat(3, 1, 1) * 255).round().to(torch.uint8)
    batch = dict(
        inputs=[rgb_uint8, rgb_uint8.flip(-1)],
        data_samples=[
            make_sample(target_mask),
            make_sample(target_mask[:, ::-1].copy())
        ])
    outputs = model.test_step(batch)
    assert len(outputs) == 2
    assert outputs[0].pred_score.data.shape == (1, 64, 64)

    # ... which ISTDMetric consumes as in tools/test.py.
    metric = ISTDMetric()
    metric.process(batch, [output.to_dict() for output in outputs])
    metrics = metric.compute_metrics(metric.results)
    assert metrics['Pd'] == 100.0 and metrics['num_images'] == 2

    # A stacked batch tensor and images of different sizes work too.
    stacked = model.test_step(dict(inputs=torch.stack(batch['inputs'])))
    assert torch.allclose(stacked[0].pred_score.data,
                          outputs[0].pred_score.data)
    mixed = model.test_step(dict(inputs=[rgb_uint8, rgb_uint8[:, :48, :40]]))
    assert mixed[1].pred_score.data.shape == (1, 48, 40)


def test_padded_inputs_are_cropped_to_img_shape():
    # A padding data preprocessor (size_divisor) pads images at the
    # bottom/right but leaves the test ground truth at ``img_shape``.
    image, target_mask, _ = synthetic_scene()
    sample = make_sample(target_mask[:48, :40].copy())
    sample.set_metainfo(dict(img_shape=(48, 40), pad_shape=(64, 64)))
    output = TopHatDetector()(image[None], [sample])[0]
    assert output.pred_score.data.shape == (1, 48, 40)
    assert output.pred_mask.data.shape == (1, 48, 40)


def test_nothing_to_train():
    model = TopHatDetector()
    assert len(list(model.parameters())) == 0
    # The device buffer is not saved: checkpoints are empty.
    assert len(model.state_dict()) == 0
    image, _, _ = synthetic_scene()
    with pytest.raises(RuntimeError, match='training-free'):
        model(image[None], mode='loss')
    with pytest.raises(ValueError, match='mode'):
        model(image[None], mode='logits')


def test_invalid_arguments():
    with pytest.raises(ValueError, match='radius'):
        TopHatDetector(radius=0)
    with pytest.raises(ValueError, match='footprint'):
        TopHatDetector(footprint='cross')
    with pytest.raises(ValueError, match='odd'):
        LocalContrastDetector(scales=(3, 4))
    with pytest.raises(ValueError, match='k must'):
        LocalContrastDetector(k=0)
