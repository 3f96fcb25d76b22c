import pytest
import torch

pytest.importorskip(
    'open_clip', reason="CLIP priors need open_clip_torch ('pip install "
    "open_clip_torch>=2.24,<4')")

from dunseg.datasets.degradation_types import (  # noqa: E402
    DEGRADATION_PROMPTS,
    DEGRADATIONS_3TASK,
)
from dunseg.evaluation import DegradationRecognitionMetric  # noqa: E402
from dunseg.registry import MODELS  # noqa: E402
from dunseg.structures import DunSegDataSample  # noqa: E402
from dunseg.utils import register_all_modules  # noqa: E402

register_all_modules()

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16,
                    head_width=16),
    text_cfg=dict(context_length=8, width=32, heads=2, layers=1))


def _batch(n=10):
    """Images whose label is readable from brightness (learnable fast)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % len(DEGRADATIONS_3TASK)
    images = (0.1 + 0.18 * labels.float()).view(-1, 1, 1, 1) + \
        0.03 * torch.rand(n, 3, 48, 48, generator=g)
    samples = [
        DunSegDataSample(metainfo=dict(
            degradation_label=int(label),
            degradation=DEGRADATIONS_3TASK[label]))
        for label in labels
    ]
    return images, samples


def test_prompts_from_classes_and_trainable_adapters():
    model = MODELS.build(dict(type='CLIPAdapterClassifier',
                              classes=DEGRADATIONS_3TASK,
                              prior=dict(clip_model=TINY)))
    assert model.prior.prompts == tuple(
        DEGRADATION_PROMPTS[c] for c in DEGRADATIONS_3TASK)
    trainable = {n.split('.')[1] for n, p in model.named_parameters()
                 if p.requires_grad}
    assert trainable == {'image_adapter', 'text_adapter'}
    with pytest.raises(ValueError, match='prompts'):
        MODELS.build(dict(type='CLIPAdapterClassifier',
                          classes=DEGRADATIONS_3TASK,
                          prior=dict(clip_model=TINY, prompts=['a', 'b'])))


def test_loss_decreases_and_predict_feeds_metric():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPAdapterClassifier',
                              classes=DEGRADATIONS_3TASK,
                              prior=dict(clip_model=TINY,
                                         adapter_act='leaky_relu')))
    model.train()
    images, samples = _batch()
    optim = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(8):
        loss = model(images, samples, mode='loss')
        assert set(loss) == {'loss_ce', 'accuracy'}
        optim.zero_grad()
        loss['loss_ce'].backward()
        optim.step()
        losses.append(loss['loss_ce'].item())
    assert losses[-1] < 0.7 * losses[0], losses

    model.eval()
    out = model(images, samples, mode='predict')
    scores = out[0].pred_scores
    assert scores.shape == (5, ) and abs(float(scores.sum()) - 1) < 1e-5
    assert out[0].pred_degradation in DEGRADATIONS_3TASK
    metric = DegradationRecognitionMetric()
    metric.dataset_meta = dict(degradation_classes=DEGRADATIONS_3TASK)
    metric.process({}, [s.to_dict() for s in out])
    res = metric.evaluate(len(out))
    assert res['num_images'] == 10 and 0 <= res['accuracy'] <= 100
    assert model(images, mode='tensor').shape == (10, 5)


def test_bad_labels_raise():
    model = MODELS.build(dict(type='CLIPAdapterClassifier',
                              classes=DEGRADATIONS_3TASK,
                              prior=dict(clip_model=TINY)))
    images, samples = _batch(2)
    samples[1].set_metainfo(dict(degradation_label=6))
    with pytest.raises(ValueError, match='degradation_classes'):
        model(images, samples, mode='loss')
    with pytest.raises(KeyError, match='degradation_label'):
        model(images, [DunSegDataSample(), DunSegDataSample()], mode='loss')


def test_configs_build():
    import os.path as osp

    from mmengine.config import Config
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    cfg = Config.fromfile(osp.join(
        root, ('configs/vlunet/'
               'clip-adapter_tiny_12e_synthetic-degradation-64x64.py')))
    model = MODELS.build(cfg.model)
    assert model.classes == tuple(cfg.degradation_classes)
    assert cfg.val_evaluator.type == 'DegradationRecognitionMetric'
    assert model(torch.rand(2, 3, 64, 64), mode='tensor').shape == (2, 7)
    official = Config.fromfile(osp.join(
        root, ('configs/vlunet/'
               'clip-adapter_vit-b-32_100e_allinone-5task-128x128.py')))
    assert official.model.prior.clip_model == 'ViT-B-32'
    assert official.model.prior.adapter_act == 'leaky_relu'
    assert official.optim_wrapper.optimizer.lr == 1e-5
    assert official.train_dataloader.batch_size == 32
    assert official.train_cfg.max_epochs == 100
    # the embedded restorer loads this tuning's checkpoint into its prior:
    # the two configs must describe the same CLIP, adapters and classes
    restorer = Config.fromfile(osp.join(
        root, 'configs/vlunet/vlunet_tiny_5k_synthetic-degradation-64x64.py'))
    for key in ('clip_model', 'adapter_act', 'input_size'):
        assert restorer.model.prior[key] == cfg.model.prior[key], key
    assert tuple(restorer.restoration_classes) == tuple(
        cfg.degradation_classes)


def test_trained_classifier_checkpoint_loads_into_prior(tmp_path):
    model = MODELS.build(dict(type='CLIPAdapterClassifier',
                              classes=DEGRADATIONS_3TASK,
                              prior=dict(clip_model=TINY)))
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    head = MODELS.build(dict(type='CLIPDegradationPrior', clip_model=TINY,
                             adapter_pretrained=path))
    for key, value in model.prior.state_dict().items():
        torch.testing.assert_close(head.state_dict()[key], value)
