import pytest
import torch

from dunseg.registry import MODELS
from dunseg.utils import register_all_modules

register_all_modules()


def _encdec(**decoder):
    return MODELS.build(dict(
        type='CODSegmentor',
        encoder=dict(type='ResNetEncoder', depth=18, base_channels=8),
        backbone=dict(type='FPNMaskDecoder', channels=16, **decoder),
        stage_loss_weights=(1, ), edge_loss=None))


@pytest.mark.slow
def test_one_mask_at_the_input_size_from_every_level():
    model = _encdec()
    image = torch.rand(2, 3, 48, 40)
    states = model.extract_states(image)
    assert len(states) == 1 and states[0]['mask'].shape == (2, 1, 48, 40)
    # every encoder level reaches the output (the top-down pass and the
    # fusion both use it): its lateral convolution gets a gradient
    states[0]['mask'].sum().backward()
    for lateral in model.backbone.lateral:
        assert lateral[0].weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_trains_to_a_fixed_batch_with_the_cod_losses():
    from mmengine.structures import PixelData

    from dunseg.structures import DunSegDataSample
    torch.manual_seed(0)
    model = _encdec()
    image = torch.rand(2, 3, 32, 32)
    samples = []
    for _ in range(2):
        mask = torch.zeros(1, 32, 32, dtype=torch.uint8)
        mask[:, 8:20, 10:24] = 1
        sample = DunSegDataSample(metainfo=dict(img_shape=(32, 32)))
        sample.gt_mask = PixelData(data=mask)
        samples.append(sample)
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        losses = model(image, samples, mode='loss')
        total = sum(losses.values())
        first = first if first is not None else total.item()
        optim.zero_grad()
        total.backward()
        optim.step()
    assert set(losses) == {'loss_mask_final', 'loss_ual'}
    assert total.item() < 0.5 * first


def test_wrong_number_of_levels_and_fuse_convs_are_errors():
    with pytest.raises(ValueError, match='num_fuse_convs'):
        _encdec(num_fuse_convs=0)
    decoder = MODELS.build(dict(type='FPNMaskDecoder', in_channels=(8, 16),
                                channels=8))
    with pytest.raises(ValueError, match='2 encoder levels, got 3'):
        decoder(torch.rand(1, 3, 16, 16),
                [torch.rand(1, c, 4, 4) for c in (8, 16, 32)])
