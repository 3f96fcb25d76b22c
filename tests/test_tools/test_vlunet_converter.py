import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from dunseg.models.unfolding import VLUNet

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MANIFESTS = osp.join(ROOT, '..', 'shared', 'checkpoints', 'official',
                     'manifests')
SCRIPT = osp.join(ROOT, 'tools', 'model_converters', 'vlunet2dunseg.py')
sys.path.insert(0, osp.join(ROOT, 'tools', 'model_converters'))
from vlunet2dunseg import convert_vlunet_state_dict  # noqa: E402

needs_manifests = pytest.mark.skipif(
    not osp.isdir(MANIFESTS),
    reason='../shared/checkpoints/official/manifests (official VLU-Net key '
    'layouts) is only present beside the development clone')


def _manifest(name):
    with open(osp.join(MANIFESTS, name)) as f:
        return json.load(f)


def _random_state_dict(manifest, prefix='net.', only=None):
    gen = torch.Generator().manual_seed(0)
    return {
        prefix + key: torch.rand(shape, generator=gen)
        for key, shape, _ in manifest['tensors']
        if only is None or key.startswith(only)
    }


@needs_manifests
@pytest.mark.parametrize('de_dim', [7, 5])
def test_manifest_layout_loads_strictly(de_dim):
    manifest = _manifest(f'vlunet_de{de_dim}.json')
    official = _random_state_dict(manifest)
    assert sum(v.numel() for v in official.values()) == manifest['num_params']
    converted = convert_vlunet_state_dict(official, prefix='')
    model = VLUNet(de_dim=de_dim)
    model.load_state_dict(converted, strict=True)
    for key in ('latent.gradient_descent.prompt_param',
                'refinement.denoiser.blocks.3.ffn.project_out.weight',
                'output.weight', 'down1_2_i.body.0.weight'):
        assert torch.equal(model.state_dict()[key], official['net.' + key])
    # Default prefix: keys for a Restorer's backbone.
    restorer_keys = convert_vlunet_state_dict(official)
    assert next(iter(restorer_keys)) == 'backbone.patch_embed.proj.weight'
    assert len(restorer_keys) == len(manifest['tensors'])


@needs_manifests
@needs_manifests
def test_clip_keys_are_delegated_under_prior():
    manifest = _manifest('vlunet_de7_lightning.json')
    official = _random_state_dict(manifest, prefix='', only='net.output')
    official.update(
        _random_state_dict(
            manifest, prefix='', only='model_degradation.ad_imageEncoder.'
            'adapter'))
    converted = convert_vlunet_state_dict(official)
    assert torch.equal(converted['backbone.output.weight'],
                       official['net.output.weight'])
    assert torch.equal(
        converted['prior.image_adapter.0.weight'],
        official['model_degradation.ad_imageEncoder.adapter.0.weight'])
    assert sum(k.startswith('prior.') for k in converted) == 12


def test_plain_and_ddp_prefixed_keys():
    weight = torch.zeros(3, 96, 3, 3)
    for key in ('output.weight', 'net.output.weight',
                'module.net.output.weight'):
        assert list(convert_vlunet_state_dict({key: weight}, prefix='')) == [
            'output.weight'
        ]


def test_unknown_keys_are_named():
    official = {
        'net.output.weight': torch.zeros(3, 96, 3, 3),
        'net.encoder_level1.gradient_descent.extra': torch.zeros(1),
        'optimizer.step': torch.zeros(1),
    }
    with pytest.raises(ValueError) as err:
        convert_vlunet_state_dict(official)
    message = str(err.value)
    assert 'net.encoder_level1.gradient_descent.extra' in message
    assert 'optimizer.step' in message and '2 key(s)' in message


def test_cli_converts_a_lightning_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = VLUNet(
        de_dim=3, dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
        heads=(1, 1, 2, 2), prior_dim=16, key_spatial_base=8,
        prompt_dim_base=2)
    src = tmp_path / 'official.ckpt'
    torch.save(
        dict(
            epoch=3,
            state_dict={'net.' + k: v
                        for k, v in model.state_dict().items()}), src)
    dst = tmp_path / 'dunseg.pth'
    result = subprocess.run([sys.executable, SCRIPT, str(src), str(dst)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert 'wrote' in result.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['converted_from'] == 'official.ckpt'
    state_dict = ckpt['state_dict']
    assert all(k.startswith('backbone.') for k in state_dict)
    assert torch.equal(
        state_dict['backbone.latent.gradient_descent.prompt_param'],
        model.latent.gradient_descent.prompt_param.detach())


@needs_manifests
def test_full_training_checkpoint_loads_strictly_into_the_restorer_config():
    """Every tensor of the official Lightning checkpoint (VLUNet(7) + the
    ViT-B-32 CLIP branch, 188,212,421 parameters) has a home in the 5-task
    config's Restorer, and nothing is left over."""
    from mmengine.config import Config

    from dunseg.registry import MODELS
    from dunseg.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'vlunet',
        'vlunet_de7_200e_allinone-5task-128x128.py'))
    model = MODELS.build(cfg.model)
    manifest = _manifest('vlunet_de7_lightning.json')
    # the checkpoint stores the one shared CLIP twice (image and text side)
    text_copy = 'model_degradation.ad_textEncoder.clip_model.'
    assert sum(torch.Size(shape).numel()
               for key, shape, _ in manifest['tensors']
               if not key.startswith(text_copy)) == manifest['num_params']
    official = {key: torch.full(shape, 0.5)
                for key, shape, _ in manifest['tensors']}
    official['net.output.weight'] = torch.rand(3, 96, 3, 3)
    converted = convert_vlunet_state_dict(official)
    model.load_state_dict(converted, strict=True)
    assert torch.equal(model.backbone.output.weight,
                       official['net.output.weight'])
