import json
import os.path as osp
import subprocess
import sys
import time

import pytest
import torch

open_clip = pytest.importorskip(
    'open_clip', reason="CLIP priors need open_clip_torch ('pip install "
    "open_clip_torch>=2.24,<4')")

from dunseg.models.losses import DACLIPLoss, clip_contrastive_loss  # noqa
from dunseg.models.priors import (DACLIP_DEGRADATIONS,  # noqa: E402
                                  CLIPDegradationPrior, DACLIPPrior,
                                  DACLIPTuner, convert_daclip_state_dict)
from dunseg.registry import MODELS  # noqa: E402
from dunseg.structures import DunSegDataSample  # noqa: E402
from dunseg.utils import register_all_modules  # noqa: E402

register_all_modules()

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
MANIFEST = osp.join(ROOT, '..', 'shared', 'checkpoints', 'official',
                    'manifests', 'daclip_vit-b-32.json')
SCRIPT = osp.join(ROOT, 'tools', 'model_converters', 'daclip2dunseg.py')
needs_manifest = pytest.mark.skipif(
    not osp.isfile(MANIFEST),
    reason='../shared/checkpoints/official/manifests (official DA-CLIP key '
    'layout) is only present beside the development clone')

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=3, width=32, patch_size=16,
                    head_width=16),
    text_cfg=dict(context_length=8, width=32, heads=2, layers=1))


def _randomise_zero_linears(prior, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for linear in prior.zero_linears:
            linear.weight.copy_(torch.randn(linear.weight.shape,
                                            generator=gen) * 0.1)
            linear.bias.copy_(torch.randn(linear.bias.shape,
                                          generator=gen) * 0.1)


def test_zero_controller_leaves_clip_unchanged():
    torch.manual_seed(0)
    prior = MODELS.build(dict(type='DACLIPPrior', clip_model=TINY))
    images = torch.rand(2, 3, 40, 50)
    out = prior(images)
    assert out['embedding'].shape == (2, 32)
    assert out['content'].shape == (2, 32)
    assert out['logits'].shape == (2, len(DACLIP_DEGRADATIONS))
    clip_features = prior.clip.encode_image(prior.preprocess(images))
    # zero-initialised linears: content = CLIP's embedding, and the
    # controller is an exact copy of the tower (initial_controller)
    torch.testing.assert_close(out['content'], clip_features)
    torch.testing.assert_close(out['embedding'], clip_features)
    # zero-shot probabilities: softmax(100 norm(degra) norm(text)^T)
    text = prior.clip.encode_text(prior.prompt_tokens)
    expected = (100 * torch.nn.functional.normalize(out['embedding'], dim=-1)
                @ torch.nn.functional.normalize(text, dim=-1).T).softmax(-1)
    torch.testing.assert_close(out['probs'], expected)
    assert not any(p.requires_grad for p in prior.parameters())


def test_hiddens_reach_clip_blocks_in_lifo_order():
    """Reference computation written out block by block: controller block l
    emits h_l = Zero_l(z_l); CLIP block l receives h_{L-1-l} (0-based)."""
    torch.manual_seed(0)
    prior = DACLIPPrior(TINY, prompts=())
    _randomise_zero_linears(prior)
    with torch.no_grad():  # make the controller differ from the tower
        for param in prior.controller.parameters():
            param.add_(0.05 * torch.randn_like(param))
    pixels = prior.preprocess(torch.rand(2, 3, 32, 32))
    tower, ctrl = prior.clip.visual, prior.controller
    with torch.no_grad():
        z = ctrl._embeds(pixels)
        hiddens = []
        for block, zero in zip(ctrl.transformer.resblocks,
                               prior.zero_linears):
            z = block(z)
            hiddens.append(zero(z))
        u = tower._embeds(pixels)
        layers = len(hiddens)
        for index, block in enumerate(tower.transformer.resblocks):
            u = block(u) + hiddens[layers - 1 - index]
        content = tower._pool(u)[0] @ tower.proj
        degradation = ctrl._pool(z)[0] @ ctrl.proj
        content_ref, degradation_ref = prior.encode_image_control(pixels)
    torch.testing.assert_close(content_ref, content)
    torch.testing.assert_close(degradation_ref, degradation)
    # FIFO order would give a different content embedding
    with torch.no_grad():
        u = tower._embeds(pixels)
        for index, block in enumerate(tower.transformer.resblocks):
            u = block(u) + hiddens[index]
        fifo = tower._pool(u)[0] @ tower.proj
    assert not torch.allclose(fifo, content, atol=1e-4)


def test_only_the_controller_trains():
    prior = DACLIPPrior(TINY, trainable=('controller', 'logit_scale'))
    prior.train()
    assert not prior.clip.training and prior.controller.training
    _randomise_zero_linears(prior)
    out = prior(torch.rand(2, 3, 32, 32))
    (out['content'].sum() + out['embedding'].sum()).backward()
    for name, param in prior.named_parameters():
        if name.startswith(('controller.', 'zero_linears.')):
            assert param.requires_grad, name
        else:
            assert param.grad is None, name
    assert prior.zero_linears[0].weight.grad is not None
    assert prior.controller.conv1.weight.grad is not None


def test_daclip_loss_is_two_clip_losses():
    torch.manual_seed(0)
    a, b, c, d = torch.randn(4, 6, 16).unbind(0)
    scale = torch.tensor(20.0)
    losses = DACLIPLoss()(a, b, c, d, scale)
    torch.testing.assert_close(losses['loss_content'],
                               clip_contrastive_loss(a, b, scale))
    torch.testing.assert_close(losses['loss_degradation'],
                               clip_contrastive_loss(c, d, scale))
    # matched pairs give a lower loss than shuffled ones
    assert clip_contrastive_loss(a, a, scale) < clip_contrastive_loss(
        a, b, scale)
    with pytest.raises(ValueError, match='word_ids'):
        DACLIPLoss(dedup_degradation=True)(a, b, c, d, scale)


def test_tuner_loss_and_predict():
    classes = ('denoise_25', 'dehaze', 'derain')
    tuner = DACLIPTuner(dict(clip_model=TINY), classes=classes)
    assert tuner.prior.prompts == ('noisy', 'hazy', 'rainy')
    samples = []
    for label, source in enumerate(('astronaut', 'texture:stripes', None)):
        meta = dict(degradation_label=label)
        if source:
            meta['source'] = source
        samples.append(DunSegDataSample(metainfo=meta))
    assert [tuner.caption(s) for s in samples] == [
        'a photo of astronaut', 'a texture of stripes', 'a photo']
    tuner.train()
    losses = tuner(torch.rand(3, 3, 32, 32), samples, mode='loss')
    total = losses['loss_content'] + losses['loss_degradation']
    total.backward()
    assert tuner.prior.logit_scale.grad is not None
    assert tuner.prior.controller.conv1.weight.grad is not None
    tuner.eval()
    preds = tuner(torch.rand(3, 3, 32, 32), samples, mode='predict')
    assert preds[0].pred_scores.shape == (3, )
    assert preds[0].pred_degradation in classes
    with pytest.raises(ValueError, match='distinct word'):
        DACLIPTuner(dict(clip_model=TINY),
                    classes=('denoise_15', 'denoise_25'))


@pytest.mark.parametrize('prior_type', ['DACLIPPrior', 'CLIPDegradationPrior'])
def test_prior_slot_contract(prior_type):
    """Both CLIP priors fill a DUN's prior slot: forward(images) -> dict with
    'embedding' (N, prior.embed_dim), a registry swap of `type`."""
    prior = MODELS.build(dict(type=prior_type, clip_model=TINY))
    out = prior(torch.rand(3, 3, 48, 48))
    assert out['embedding'].shape == (3, prior.embed_dim)
    assert isinstance(prior, (DACLIPPrior, CLIPDegradationPrior))


def test_converter_maps_official_keys_and_checks_the_alias():
    torch.manual_seed(0)
    source = DACLIPPrior(TINY, prompts=())
    _randomise_zero_linears(source)
    official = {'logit_scale': source.logit_scale.detach()}
    for key, value in source.clip.state_dict().items():
        official['clip.' + key] = value
        if key.startswith('visual.'):
            official[key] = value  # DaCLIP.visual aliases clip.visual
    for key, value in source.controller.state_dict().items():
        key = key.replace('transformer.', 'transformer.transformer.', 1)
        official['module.visual_control.' + key] = value
    for key, value in source.zero_linears.state_dict().items():
        official['visual_control.transformer.zero_modules.' + key] = value
    converted = convert_daclip_state_dict(official)
    target = DACLIPPrior(TINY, prompts=())
    target.load_state_dict(converted, strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key

    official['visual.proj'] = official['visual.proj'] + 1
    with pytest.raises(ValueError, match='visual.proj'):
        convert_daclip_state_dict(official)
    assert 'clip.visual.proj' in convert_daclip_state_dict(
        official, shared_visual='ignore')
    official['text_decoder.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match='text_decoder.weight'):
        convert_daclip_state_dict(official, shared_visual='ignore')


@pytest.mark.slow
def test_cli_and_daclip_pretrained(tmp_path):
    torch.manual_seed(0)
    source = DACLIPPrior(TINY, prompts=())
    _randomise_zero_linears(source)
    official = {'logit_scale': source.logit_scale.detach()}
    official.update({'clip.' + k: v
                     for k, v in source.clip.state_dict().items()})
    official.update({
        'visual_control.' + k.replace('transformer.',
                                      'transformer.transformer.', 1): v
        for k, v in source.controller.state_dict().items()})
    official.update({'visual_control.transformer.zero_modules.' + k: v
                     for k, v in source.zero_linears.state_dict().items()})
    src = tmp_path / 'daclip_tiny.pt'
    torch.save(dict(epoch=1, state_dict=official), src)
    dst = tmp_path / 'converted.pth'
    result = subprocess.run([sys.executable, SCRIPT, str(src), str(dst)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert 'wrote' in result.stdout
    images = torch.rand(2, 3, 32, 32)
    expected = source(images)
    for path in (src, dst):  # official file converted on the fly, or not
        loaded = DACLIPPrior(TINY, daclip_pretrained=str(path))
        out = loaded(images)
        torch.testing.assert_close(out['embedding'], expected['embedding'])
        torch.testing.assert_close(out['content'], expected['content'])
    with pytest.raises(FileNotFoundError):
        DACLIPPrior(TINY, daclip_pretrained=str(tmp_path / 'missing.pt'))


@needs_manifest
def test_official_manifest_converts_and_loads_strictly():
    """The official daclip_ViT-B-32 layout (631 tensors, 246,213,634
    parameters) maps onto DACLIPPrior('ViT-B-32') with strict=True.
    Builds the full ViT-B-32 prior on CPU (about 1 GB, ~10 s)."""
    start = time.time()
    with open(MANIFEST) as f:
        manifest = json.load(f)
    official = {}
    for key, shape, _ in manifest['tensors']:
        if key.startswith('visual.'):
            continue  # the alias of clip.visual.*, added below
        official[key] = torch.zeros(shape)
    for key in list(official):
        if key.startswith('clip.visual.'):
            official[key[len('clip.'):]] = official[key]  # shared storage
    assert len(official) == len(manifest['tensors'])
    assert sum(v.numel() for k, v in official.items()
               if not k.startswith('visual.')) == manifest['num_params']
    marked = {
        'visual_control.transformer.zero_modules.11.weight':
        'zero_linears.11.weight',
        'visual_control.transformer.transformer.resblocks.3.attn.'
        'in_proj_weight': 'controller.transformer.resblocks.3.attn.'
        'in_proj_weight',
        'visual_control.proj': 'controller.proj',
        'clip.token_embedding.weight': 'clip.token_embedding.weight',
    }
    for key in marked:
        official[key].copy_(torch.rand(official[key].shape))
    official['logit_scale'].fill_(4.6)
    converted = convert_daclip_state_dict(official)
    prior = DACLIPPrior('ViT-B-32', prompts=())
    assert sum(p.numel() for p in prior.parameters()) == \
        manifest['num_params']
    prior.load_state_dict(converted, strict=True)
    state = prior.state_dict()
    for src, dst in marked.items():
        assert torch.equal(state[dst], official[src]), dst
    assert float(prior.logit_scale) == pytest.approx(4.6)
    assert time.time() - start < 60


@pytest.mark.parametrize('config', [
    'daclip_tiny_6e_synthetic-degradation-64x64.py',
    'daclip-clean-lowres_tiny_6e_synthetic-degradation-64x64.py'
])
def test_tiny_config_trains_on_embedded_degradations(config):
    """configs/daclip builds, the packed samples carry the source name the
    captions need, and a training step updates only DA-CLIP's trainable
    parts (controller, zero linears, logit scale)."""
    from mmengine.config import Config
    from mmengine.dataset import default_collate

    from dunseg.registry import DATASETS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'daclip', config))
    model = MODELS.build(cfg.model)
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    num_classes = len(model.classes)
    dataset_cfg.update(num_samples=num_classes)
    dataset = DATASETS.build(dataset_cfg)
    samples = [dataset[i] for i in range(num_classes)]
    # one sample per class, in class order, each with its own word
    assert [s['data_samples'].degradation_label
            for s in samples] == list(range(num_classes))
    assert len(set(model.words)) == num_classes
    if 'clean' in model.classes:
        clean = samples[model.classes.index('clean')]
        assert torch.equal(clean['inputs'],
                           clean['data_samples'].gt_image.data)
    batch = default_collate(samples)
    data = model.data_preprocessor(batch, training=True)
    captions = [model.caption(s) for s in data['data_samples']]
    assert all(c.startswith(('a photo of ', 'a texture of '))
               for c in captions), captions
    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = model(**data, mode='loss')
    (losses['loss_content'] + losses['loss_degradation']).backward()
    optimizer.step()
    trainable = {n.split('.')[1] for n, p in model.named_parameters()
                 if p.requires_grad}
    assert trainable == {'controller', 'zero_linears', 'logit_scale'}
