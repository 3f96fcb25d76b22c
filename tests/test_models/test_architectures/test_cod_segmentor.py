import pytest
import torch
from mmengine.structures import PixelData

from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample
from dunseg.utils import register_all_modules

register_all_modules()

TINY_RUN = dict(
    type='CODSegmentor',
    encoder=dict(type='ResNetEncoder', depth=18, base_channels=8),
    backbone=dict(
        type='RUN', channels=16, sparsity_channels=8,
        vss_cfg=dict(type='VSSBlock', d_state=4, expand=1.0,
                     scan_backend='torch')),
    uncertainty_loss=dict(type='UncertaintyAwareLoss', loss_weight=2.0,
                          ramp=False))


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(n=2, size=(64, 64)):
    samples = []
    for i in range(n):
        mask = torch.zeros(1, *size, dtype=torch.uint8)
        mask[:, 16:40, 20:44] = 1
        edge = torch.zeros_like(mask)
        edge[:, 16, 20:44] = 1
        sample = DunSegDataSample(metainfo=dict(img_shape=size))
        sample.gt_mask = PixelData(data=mask)
        sample.gt_edge = PixelData(data=edge)
        samples.append(sample)
    return dict(inputs=torch.rand(n, 3, *size), data_samples=samples)


def test_loss_terms_follow_runs_recipe_and_backpropagate():
    torch.manual_seed(0)
    model = MODELS.build(TINY_RUN)
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {
        'loss_mask_prior', 'loss_mask_k4', 'loss_mask_k3', 'loss_mask_k2',
        'loss_mask_k1', 'loss_edge_k3', 'loss_edge_k2', 'loss_edge_k1',
        'loss_ual'
    }
    sum(losses.values()).backward()
    assert model.encoder.resnet.conv1.weight.grad is not None
    # the stage weights 1/16 ... 1 are applied to the same structure loss
    # (eval mode: no dropout, fixed BatchNorm statistics, so two passes agree)
    model.eval()
    with torch.no_grad():
        losses = model(**data, mode='loss')
        states = model.extract_states(data['inputs'])
    gt = torch.stack([s.gt_mask.data for s in data['data_samples']]).float()
    expected = model.mask_loss(states[0]['mask'], gt) / 16
    torch.testing.assert_close(losses['loss_mask_prior'].detach(),
                               expected.detach())


def test_reconstruction_loss_switches_on():
    config = dict(TINY_RUN, reconstruction_loss=dict(type='MSELoss'))
    model = MODELS.build(config)
    losses = model(**model.data_preprocessor(_batch(), True), mode='loss')
    assert {'loss_rec_k4', 'loss_rec_k3', 'loss_rec_k2',
            'loss_rec_k1'} <= set(losses)
    assert 'loss_rec_prior' not in losses


def test_missing_edge_is_named():
    model = MODELS.build(TINY_RUN)
    batch = _batch()
    for sample in batch['data_samples']:
        del sample.gt_edge
    with pytest.raises(ValueError, match='gt_edge'):
        model(**model.data_preprocessor(batch, True), mode='loss')


def test_predict_scores_masks_and_stage_states_at_odd_size():
    model = MODELS.build(dict(TINY_RUN, return_stages=True)).eval()
    data = model.data_preprocessor(_batch(size=(96, 64)), False)
    samples = model(**data, mode='predict')
    score = samples[0].pred_score.data
    assert score.shape == (1, 96, 64)
    assert 0 <= float(score.min()) and float(score.max()) <= 1
    assert samples[0].pred_mask.data.dtype == torch.uint8
    stages = samples[0].stage_states
    # the drawn rows, in a fixed order (not a set's hash order)
    assert list(stages) == ['mask', 'background', 'edge', 'mask_hat',
                            'mask_ss']
    assert stages['mask'].shape == (5, 1, 96, 64)
    assert stages['edge'].shape == (4, 1, 96, 64)
    assert stages['background'].shape == (5, 3, 96, 64)
    assert stages['mask_hat'].shape == (1, 1, 96, 64)
    # B_0 = (1 − σ(M_0)) ⊙ I, drawn in the image range
    prior = torch.sigmoid(model.extract_states(data['inputs'])[0]['mask'])
    pre = model.data_preprocessor
    expected = (1 - prior[0]) * data['inputs'][0] * pre.std + pre.mean
    torch.testing.assert_close(stages['background'][0], expected)
    logits = model(data['inputs'], mode='tensor')
    torch.testing.assert_close(torch.sigmoid(logits[0]), score)


def test_weights_must_match_the_states():
    model = MODELS.build(dict(TINY_RUN, stage_loss_weights=(1, 1)))
    with pytest.raises(ValueError, match='stage_loss_weights'):
        model(**model.data_preprocessor(_batch(), True), mode='loss')
