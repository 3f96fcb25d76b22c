import pytest
import torch
from mmengine.structures import PixelData

from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample
from dunseg.utils import register_all_modules

register_all_modules()


def build(channels_last=False, **backbone):
    backbone = dict(type='RPCANetPlus', num_stages=2, **backbone)
    return MODELS.build(
        dict(type='UnfoldingSegmentor',
             data_preprocessor=dict(type='DunSegDataPreprocessor',
                                    in_channels=1),
             backbone=backbone,
             decode_head=dict(type='StateMaskHead', state_key='T'),
             reconstruction_loss=dict(type='MSELoss', loss_weight=0.1,
                                      loss_name='loss_fidelity'),
             channels_last=channels_last))


def batch(n=2, h=16, w=16):
    inputs, samples = [], []
    for i in range(n):
        mask = torch.zeros(1, h, w, dtype=torch.uint8)
        mask[0, 4 + i, 5:7] = 1
        inputs.append(torch.rand(1, h, w))
        samples.append(
            DunSegDataSample(
                gt_mask=PixelData(data=mask),
                metainfo=dict(img_shape=(h, w), img_path=f'img{i}.png')))
    return dict(inputs=inputs, data_samples=samples)


def test_loss_predict_tensor_modes():
    torch.manual_seed(0)
    model = build()
    model.init_weights()
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_softiou', 'loss_fidelity'}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())

    model.eval()
    data = model.data_preprocessor(batch(), training=False)
    logits = model(data['inputs'], mode='tensor')
    assert logits.shape == (2, 1, 16, 16)
    samples = model(**data, mode='predict')
    score = samples[0].pred_score.data
    torch.testing.assert_close(score, logits[0].sigmoid())
    assert samples[0].pred_mask.data.dtype == torch.uint8
    assert 'stage_states' not in samples[0]


@pytest.mark.slow
def test_train_step_decreases_loss():
    torch.manual_seed(0)
    model = build()
    model.init_weights()
    from mmengine.optim import OptimWrapper
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    data = batch()
    first = None
    for _ in range(15):
        log = model.train_step(data, optim)
        first = first if first is not None else log['loss'].item()
    assert log['loss'].item() < first


def test_return_stages_and_padding_crop():
    torch.manual_seed(0)
    model = build()
    model.return_stages = True
    model.data_preprocessor.size_divisor = 8
    model.eval()
    data = batch(1, 13, 11)
    out = model.test_step(data)[0]
    assert out.pred_score.shape == (13, 11)
    assert set(out.stage_states) == {'B', 'T', 'N', 'D'}
    assert out.stage_states['T'].shape == (2, 1, 13, 11)
    assert out.gt_mask.shape == (13, 11)  # not padded at test time


def test_channels_last_gives_same_outputs():
    torch.manual_seed(0)
    ref = build().eval()
    fast = build(channels_last=True).eval()
    fast.load_state_dict(ref.state_dict())
    x = torch.rand(2, 1, 24, 24)
    torch.testing.assert_close(fast(x), ref(x), rtol=1e-4, atol=1e-5)


def test_channel_mismatch_names_the_image():
    model = build()
    data = batch(1)
    data['inputs'] = [torch.rand(3, 16, 16)]
    with pytest.raises(ValueError, match='img0.png.*1 channel'):
        model.data_preprocessor(data)


def test_missing_mask_in_training_is_explained():
    model = build()
    data = batch(1)
    del data['data_samples'][0].gt_mask
    data = model.data_preprocessor(data, training=True)
    with pytest.raises(ValueError, match='no gt_mask'):
        model(**data, mode='loss')
