import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

open_clip = pytest.importorskip(
    'open_clip', reason="CLIP priors need open_clip_torch ('pip install "
    "open_clip_torch>=2.24,<4')")

from dunseg.models.priors import (  # noqa: E402
    CLIPDegradationPrior,
    CLIPImagePreprocess,
    MLPAdapter,
    build_clip_model,
    convert_vlunet_clip_state_dict,
)
from dunseg.models.priors.clip_builder import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD  # noqa: E402
from dunseg.registry import MODELS  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
MANIFEST = osp.join(ROOT, '..', 'shared', 'checkpoints', 'official',
                    'manifests', 'vlunet_de7_lightning.json')
needs_manifest = pytest.mark.skipif(
    not osp.isfile(MANIFEST),
    reason='../shared/checkpoints/official/manifests (official VLU-Net key '
    'layout) is only present beside the development clone')

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16,
                    head_width=16),
    text_cfg=dict(context_length=8, width=32, heads=2, layers=1))
# embed_dim 512 like the official adapters, everything else tiny
TINY_512 = dict(TINY, embed_dim=512)
PROMPTS = ('image with noise', 'image with haze', 'image with rain')


def _manifest_tensors(prefix):
    with open(MANIFEST) as f:
        tensors = json.load(f)['tensors']
    return [(name, shape) for name, shape, _ in tensors
            if name.startswith(prefix)]


def test_tiny_prior_shapes_and_freezing():
    head = MODELS.build(dict(type='CLIPDegradationPrior', clip_model=TINY,
                             prompts=PROMPTS))
    assert head.embed_dim == 32 and head.input_size == 32
    out = head(torch.rand(3, 3, 40, 57))  # any size, resized inside
    assert out['embedding'].shape == (3, 32)
    assert out['logits'].shape == (3, 3)
    # frozen by default: no trainable parameter, eval mode kept by train()
    assert not any(p.requires_grad for p in head.parameters())
    head.train()
    assert not head.clip.training and not head.image_adapter.training
    # official logits: raw dot product with the adapted prompt features
    text = head.text_features()
    torch.testing.assert_close(out['logits'], out['embedding'] @ text.T)
    # no prompts -> embedding only
    plain = CLIPDegradationPrior(TINY)
    assert set(plain(torch.rand(1, 3, 32, 32))) == {'embedding'}


def test_trainable_adapters_get_gradients_clip_does_not():
    head = CLIPDegradationPrior(
        TINY, prompts=PROMPTS, trainable=('image_adapter', 'text_adapter'))
    head.train()
    assert not head.clip.training and head.image_adapter.training
    head(torch.rand(2, 3, 32, 32))['logits'].sum().backward()
    for name, param in head.named_parameters():
        if name.startswith(('image_adapter.', 'text_adapter.')):
            assert param.requires_grad and param.grad is not None, name
        else:
            assert not param.requires_grad and param.grad is None, name
    # unfreezing the vision tower (tiny random CLIP configs)
    head = CLIPDegradationPrior(
        TINY, prompts=PROMPTS, trainable=('image_adapter', 'visual'))
    head.train()
    assert head.clip.visual.training and not head.clip.transformer.training
    head(torch.rand(2, 3, 32, 32))['logits'].sum().backward()
    assert head.clip.visual.conv1.weight.grad is not None
    assert head.clip.token_embedding.weight.grad is None
    with pytest.raises(ValueError, match='unknown trainable'):
        CLIPDegradationPrior(TINY, trainable=('adapter', ))


def test_prompt_cache_invalidated_by_loading():
    head = CLIPDegradationPrior(TINY, prompts=PROMPTS)
    first = head.encode_prompts()
    assert head.encode_prompts() is first  # cached while frozen
    other = CLIPDegradationPrior(TINY, prompts=PROMPTS)
    head.load_state_dict(other.state_dict())
    torch.testing.assert_close(head.encode_prompts(), other.encode_prompts())
    assert not torch.allclose(head.encode_prompts(), first)


def test_cosine_logits_option():
    head = CLIPDegradationPrior(
        TINY, prompts=PROMPTS, normalize=True, logit_scale_init=10.0,
        trainable=('logit_scale', ))
    logits = head(torch.rand(4, 3, 32, 32))['logits']
    assert logits.abs().max() <= 10.0 + 1e-4
    assert head.logit_scale.requires_grad
    assert 'logit_scale' in head.state_dict()


def test_preprocess_matches_torchvision_and_normalises():
    tv = pytest.importorskip('torchvision.transforms.v2')
    pre = CLIPImagePreprocess(224)
    img = torch.rand(2, 3, 300, 411)
    out = pre(img)
    assert out.shape == (2, 3, 224, 224)
    ref = tv.Compose([
        tv.Resize(224, interpolation=tv.InterpolationMode.BICUBIC,
                  antialias=True),
        tv.CenterCrop(224),
        tv.Normalize(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)
    ])(img)
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=0)
    # the 128^2 training crops are enlarged: torchvision antialiases that
    # too (a different bicubic kernel), and so must we
    crop = torch.rand(2, 3, 128, 128)
    ref = tv.Compose([
        tv.Resize(224, interpolation=tv.InterpolationMode.BICUBIC,
                  antialias=True),
        tv.CenterCrop(224),
        tv.Normalize(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)
    ])(crop)
    torch.testing.assert_close(pre(crop), ref, atol=2e-5, rtol=0)
    # an image of the mean colour maps to zero; upscaling a 128 patch works
    mean_img = torch.tensor(OPENAI_CLIP_MEAN).view(1, 3, 1, 1).expand(
        1, 3, 128, 96)
    zero = pre(mean_img)
    assert zero.shape == (1, 3, 224, 224)
    assert zero.abs().max() < 1e-4
    # differentiable
    img = torch.rand(1, 3, 64, 64, requires_grad=True)
    pre(img).sum().backward()
    assert img.grad is not None


def test_mlp_adapter_layout():
    adapter = MLPAdapter(512, act='leaky_relu')
    keys = [k for k in adapter.state_dict()]
    assert keys == [f'{i}.{w}' for i in (0, 1, 3, 4, 6, 7)
                    for w in ('weight', 'bias')]
    assert isinstance(adapter[2], torch.nn.LeakyReLU)
    assert isinstance(MLPAdapter(512)[5], torch.nn.GELU)
    with pytest.raises(ValueError, match='act'):
        MLPAdapter(8, act='relu')


@needs_manifest
def test_adapter_keys_match_manifest():
    for encoder, ours in (('ad_imageEncoder', 'image_adapter'),
                          ('ad_textEncoder', 'text_adapter')):
        official = _manifest_tensors(f'model_degradation.{encoder}.adapter.')
        prefix = f'model_degradation.{encoder}.adapter.'
        expected = {n[len(prefix):]: tuple(s) for n, s in official}
        got = {k: tuple(v.shape)
               for k, v in MLPAdapter(512).state_dict().items()}
        assert got == expected, ours


def test_hub_tags_and_missing_files_raise_clearly(tmp_path):
    with pytest.raises(ValueError, match='local path'):
        build_clip_model(TINY, pretrained='laion2b_s34b_b79k')
    with pytest.raises(ValueError, match='never downloads'):
        build_clip_model('ViT-B-32', pretrained='openai')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        build_clip_model(TINY, pretrained=str(tmp_path / 'clip.pt'))
    with pytest.raises(ValueError, match='vocab_size'):
        build_clip_model(dict(TINY, text_cfg=dict(TINY['text_cfg'],
                                                  vocab_size=1000)))


def test_local_clip_weights_load(tmp_path):
    src = build_clip_model(TINY)
    path = str(tmp_path / 'tiny_clip.pt')
    torch.save(src.state_dict(), path)
    head = CLIPDegradationPrior(TINY, pretrained=path)
    for key, value in src.state_dict().items():
        torch.testing.assert_close(head.clip.state_dict()[key], value)


def _fake_clip_tuned(tmp_path):
    """clip_tuned.pth layout: ckpt['learnable_params'] of the adapters."""
    torch.manual_seed(0)
    params = {}
    for encoder in ('ad_imageEncoder', 'ad_textEncoder'):
        for i in (0, 3, 6):
            params[f'{encoder}.adapter.{i}.weight'] = torch.nn.Parameter(
                torch.randn(512, 512))
            params[f'{encoder}.adapter.{i}.bias'] = torch.nn.Parameter(
                torch.randn(512))
        for i in (1, 4, 7):
            params[f'{encoder}.adapter.{i}.weight'] = torch.nn.Parameter(
                torch.rand(512))
            params[f'{encoder}.adapter.{i}.bias'] = torch.nn.Parameter(
                torch.randn(512))
    path = str(tmp_path / 'clip_tuned.pth')
    torch.save(dict(epoch=90, learnable_params=params, optimizer={}), path)
    return path, params


def test_clip_tuned_loads_as_adapter_pretrained_and_cli(tmp_path):
    path, params = _fake_clip_tuned(tmp_path)
    head = CLIPDegradationPrior(
        TINY_512, adapter_pretrained=path, adapter_act='leaky_relu',
        prompts=PROMPTS)
    torch.testing.assert_close(head.image_adapter[3].weight,
                               params['ad_imageEncoder.adapter.3.weight'].data)
    torch.testing.assert_close(head.text_adapter[7].bias,
                               params['ad_textEncoder.adapter.7.bias'].data)
    assert not any(p.requires_grad for p in head.parameters())

    out = str(tmp_path / 'converted.pth')
    script = osp.join(ROOT, 'tools', 'model_converters',
                      'vlunet_clip2dunseg.py')
    res = subprocess.run([sys.executable, script, path, out],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert 'image_adapter, text_adapter' in res.stdout
    converted = torch.load(out, weights_only=True)
    assert converted['meta']['converted_from'] == 'clip_tuned.pth'
    again = CLIPDegradationPrior(TINY_512, adapter_pretrained=out)
    torch.testing.assert_close(again.image_adapter[0].weight,
                               head.image_adapter[0].weight)
    # a tiny 32-d head cannot take the 512-d official adapters
    with pytest.raises(ValueError, match='shape'):
        CLIPDegradationPrior(TINY, adapter_pretrained=path)


def test_converter_rejects_unknown_keys_and_differing_copies():
    w = torch.zeros(2)
    with pytest.raises(ValueError, match='model_degradation.foo.bar'):
        convert_vlunet_clip_state_dict({'model_degradation.foo.bar': w})
    # the backbone is skipped, the adapter prefix-free layout is accepted
    out = convert_vlunet_clip_state_dict({
        'net.patch_embed.proj.weight': w,
        'ad_imageEncoder.adapter.0.bias': w,
    })
    assert list(out) == ['image_adapter.0.bias']
    copies = {
        'model_degradation.ad_imageEncoder.clip_model.ln_final.bias': w,
        'model_degradation.ad_textEncoder.clip_model.ln_final.bias': w + 1,
    }
    with pytest.raises(ValueError, match='differ'):
        convert_vlunet_clip_state_dict(copies)
    out = convert_vlunet_clip_state_dict(copies, clip_source='image')
    torch.testing.assert_close(out['clip.ln_final.bias'], w)


@needs_manifest
def test_full_checkpoint_layout_loads_strictly_into_vit_b_32():
    """model_degradation.* of the lightning checkpoint -> strict=True."""
    torch.manual_seed(0)
    state = {}
    image_copy = {}
    for name, shape in _manifest_tensors('model_degradation.'):
        rest = name.split('.', 3)[3]  # after ...{encoder}.{part}.
        if '.clip_model.' in name and 'ad_textEncoder' in name:
            # the official model shares one CLIP: the text copy is the same
            state[name] = image_copy[rest]
            continue
        value = torch.randn(shape) if shape else torch.tensor(1.5)
        state[name] = value
        image_copy[rest] = value
    state['net.patch_embed.proj.weight'] = torch.zeros(48, 3, 3, 3)
    converted = convert_vlunet_clip_state_dict(state)
    head = CLIPDegradationPrior('ViT-B-32')
    head.load_state_dict(converted, strict=True)
    torch.testing.assert_close(
        head.clip.visual.conv1.weight,
        state['model_degradation.ad_imageEncoder.clip_model.visual.conv1.'
              'weight'])
    torch.testing.assert_close(
        head.text_adapter[4].weight,
        state['model_degradation.ad_textEncoder.adapter.4.weight'])
    assert head.embed_dim == 512
