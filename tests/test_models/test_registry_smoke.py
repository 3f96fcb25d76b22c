"""Every model registered by dunseg, built tiny and run once.

The fast test tier must touch each registered component: this file builds
every name in ``MODELS`` that a dunseg module registers, runs one forward
pass and, where it has trainable parameters (or differentiable inputs, for
the losses), one backward pass, and checks that outputs and gradients are
finite and of the expected shape. Architectures (data preprocessor + data
samples) run ``mode='loss'``, backward, then ``mode='predict'``.

``test_every_registered_model_has_a_smoke_entry`` fails when a component is
registered without an entry here: add a tiny config to ``TINY`` (or, only
if it cannot run without files this machine cannot have, a reason to
``EXCLUDED`` plus a check of its error message).
"""
import importlib
import importlib.util
import pkgutil
import sys
from typing import Callable, NamedTuple, Optional, Union

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData

import dunseg.models  # registers every model
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample
from dunseg.utils import register_all_modules

from .test_architectures.test_joint_restorer_segmentor import phantom_batch

register_all_modules()

#: A CLIP small enough for 32x32 inputs (one block per tower), like
#: tests/conftest.py's TINY_CLIP_32 with the 16-token context of the joint
#: model's tests (the dual prior's prompts).
TINY_CLIP = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16,
                    head_width=16),
    text_cfg=dict(context_length=16, width=32, heads=2, layers=1))
#: The pure-PyTorch selective scan: no C++ kernel build in the fast tier.
TINY_VSS = dict(type='VSSBlock', d_state=4, expand=1.0, d_conv=3,
                scan_backend='torch')
TINY_MAMBA = dict(d_state=4, scan_backend='torch')
TINY_ENCODER = dict(type='ResNetEncoder', depth=18, base_channels=8)
ENCODER_CHANNELS = (8, 16, 32, 64)
TINY_VLUNET = dict(type='VLUNet', de_dim=3, dim=8, num_blocks=(1, 1, 1, 1),
                   num_refinement_blocks=1, heads=(1, 1, 1, 1), prior_dim=16,
                   key_spatial_base=16, prompt_dim_base=2)
TINY_VLDUN = dict(type='VLDUN', dim=8, num_blocks=(1, 1, 1, 1),
                  num_refinement_blocks=1, heads=(1, 1, 1, 1), prior_dim=16,
                  mamba_cfg=TINY_MAMBA)
TINY_UNET = dict(type='mmseg.UNet', in_channels=1, base_channels=4,
                 num_stages=3, strides=(1, 1, 1), enc_num_convs=(2, 2, 2),
                 dec_num_convs=(2, 2), downsamples=(True, True),
                 enc_dilations=(1, 1, 1), dec_dilations=(1, 1),
                 upsample_cfg=dict(type='mmseg.InterpConv'))
DEGRADATIONS = ('denoise_25', 'dehaze', 'derain')


class Smoke(NamedTuple):
    """One registered model at tiny size.

    cfg: the config, or a function of a temporary directory returning it
        (for models that read a file).
    inputs: for a plain module, a function returning ``(args, kwargs)`` of
        one forward call; for an architecture, one returning the batch
        (``inputs`` + ``data_samples``) its data preprocessor takes.
    check: optional ``check(output, args)`` (modules) or
        ``check(predictions, batch)`` (architectures): expected shapes.
    backward: the output is differentiable and reaches the trainable
        parameters (or the inputs that require grad): run a backward pass and
        check the gradients. False for modules with nothing to train.
    loss: architectures only: False for training-free models.
    """
    cfg: Union[dict, Callable]
    inputs: Callable
    check: Optional[Callable] = None
    backward: bool = True
    loss: bool = True


def rand(*shape, grad=False):
    return torch.rand(*shape).requires_grad_(grad)


def same_shape(out, args):
    assert out.shape == args[0].shape


def shape_is(*shape):

    def check(out, args):
        tensor = out[0] if isinstance(out, (tuple, list)) else out
        assert tuple(tensor.shape) == shape, tuple(tensor.shape)

    return check


def last_state_shape(key, *shape):

    def check(states, args):
        assert tuple(states[-1][key].shape) == shape, tuple(
            states[-1][key].shape)

    return check


def scalar(out, args):
    assert out.ndim == 0


def features(n=2, size=32, channels=ENCODER_CHANNELS):
    return [rand(n, c, -(-size // s), -(-size // s))
            for c, s in zip(channels, (4, 8, 16, 32))]


def selector_inputs(n=1, steps=3, size=32, **kwargs):
    return lambda: ((rand(n, steps, 3, size, size), ), {
        key: value() for key, value in kwargs.items()})


def selection(n=1, steps=3):

    def check(out, args):
        index, scores = out
        assert index.shape == (n, ) and index.dtype == torch.long
        assert scores.shape == (n, steps)

    return check


# ---- batches of the architectures ------------------------------------------

def mask_samples(n, size, edge=False, image=False):
    samples = []
    for _ in range(n):
        sample = DunSegDataSample(metainfo=dict(img_shape=(size, size)))
        mask = torch.zeros(1, size, size, dtype=torch.uint8)
        mask[:, size // 4:size // 2, size // 4:3 * size // 4] = 1
        sample.gt_mask = PixelData(data=mask)
        if edge:
            border = torch.zeros_like(mask)
            border[:, size // 4, size // 4:3 * size // 4] = 1
            sample.gt_edge = PixelData(data=border)
        if image:
            sample.gt_image = PixelData(data=torch.rand(3, size, size))
        samples.append(sample)
    return samples


def cod_batch(n=2, size=32):
    return dict(inputs=torch.rand(n, 3, size, size),
                data_samples=mask_samples(n, size, edge=True))


def nun_batch(n=2, size=32):
    return dict(inputs=torch.rand(n, 3, size, size),
                data_samples=mask_samples(n, size, image=True))


def istd_batch(n=2, size=16):
    return dict(inputs=[torch.rand(1, size, size) for _ in range(n)],
                data_samples=mask_samples(n, size))


def restoration_batch(n=2, size=32):
    samples = []
    for _ in range(n):
        sample = DunSegDataSample(metainfo=dict(img_shape=(size, size)))
        sample.gt_image = PixelData(data=torch.rand(3, size, size))
        samples.append(sample)
    return dict(inputs=torch.rand(n, 3, size, size), data_samples=samples)


def degradation_batch(n=3, size=32):
    samples = [
        DunSegDataSample(metainfo=dict(
            degradation_label=i % len(DEGRADATIONS),
            degradation=DEGRADATIONS[i % len(DEGRADATIONS)]))
        for i in range(n)
    ]
    return dict(inputs=torch.rand(n, 3, size, size), data_samples=samples)


def pred_field(name, *shape):

    def check(predictions, batch):
        data = getattr(predictions[0], name).data
        assert tuple(data.shape) == shape, (name, tuple(data.shape))

    return check


def restore_then_segment(tmp_path):
    restorer = dict(type='JointRestorerSegmentor',
                    prior=dict(type='CLIPDualPrior', clip_model=TINY_CLIP),
                    backbone=TINY_VLDUN, seg_head=None)
    path = str(tmp_path / 'restorer.pth')
    torch.save(dict(state_dict=MODELS.build(restorer).state_dict()), path)
    return dict(type='RestoreThenSegment', restorer=restorer,
                restorer_checkpoint=path,
                segmenter=dict(type='MedicalSegmentor', backbone=TINY_UNET,
                               seg_head=dict(type='VLDUNSegHead',
                                             num_classes=4, channels=8)))


# ---- the table ------------------------------------------------------------

TINY = {
    # architectures
    'CLIPAdapterClassifier': Smoke(
        dict(type='CLIPAdapterClassifier', classes=DEGRADATIONS,
             prior=dict(clip_model=TINY_CLIP)), degradation_batch,
        lambda preds, batch: (
            preds[0].pred_scores.shape == (3, )
            or pytest.fail('pred_scores'))),
    'CODSegmentor': Smoke(
        dict(type='CODSegmentor', encoder=TINY_ENCODER,
             backbone=dict(type='RUN', in_channels=ENCODER_CHANNELS,
                           channels=16, sparsity_channels=8,
                           vss_cfg=TINY_VSS),
             uncertainty_loss=dict(type='UncertaintyAwareLoss', ramp=False)),
        cod_batch, pred_field('pred_score', 1, 32, 32)),
    'DACLIPTuner': Smoke(
        dict(type='DACLIPTuner', prior=dict(clip_model=TINY_CLIP),
             classes=DEGRADATIONS), degradation_batch,
        lambda preds, batch: (
            preds[0].pred_scores.shape == (3, )
            or pytest.fail('pred_scores'))),
    'JointRestorerSegmentor': Smoke(
        dict(type='JointRestorerSegmentor', backbone=TINY_VLDUN,
             prior=dict(type='CLIPDualPrior', clip_model=TINY_CLIP),
             seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=8)),
        phantom_batch, pred_field('pred_image', 1, 32, 32)),
    'MedicalSegmentor': Smoke(
        dict(type='MedicalSegmentor', backbone=TINY_UNET,
             seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=8)),
        phantom_batch, pred_field('pred_score', 4, 32, 32)),
    'NUNSegmentor': Smoke(
        dict(type='NUNSegmentor', encoder=TINY_ENCODER,
             backbone=dict(type='NUN', in_channels=ENCODER_CHANNELS,
                           channels=16, inner_iterations=(2, 1),
                           inner_cfg=dict(type='DeRUN', prior_dim=16,
                                          operator_channels=4,
                                          prox_channels=4, prox_blocks=1,
                                          cue_channels=4),
                           vss_cfg=TINY_VSS, background_channels=4),
             prior=dict(type='DACLIPPrior', clip_model=TINY_CLIP,
                        input_size=32, prompts=()),
             selector=dict(type='OracleSelector')),
        nun_batch, pred_field('pred_image', 3, 32, 32)),
    'RestoreThenSegment': Smoke(
        restore_then_segment, phantom_batch,
        pred_field('pred_score', 4, 32, 32)),
    'Restorer': Smoke(
        dict(type='Restorer', backbone=TINY_VLUNET,
             prior=dict(type='CLIPDegradationPrior', clip_model=TINY_CLIP,
                        input_size=32,
                        prompts=('noisy image', 'hazy image', 'rainy image')),
             prior_classes=DEGRADATIONS),
        restoration_batch, pred_field('pred_image', 3, 32, 32)),
    'UnfoldingSegmentor': Smoke(
        dict(type='UnfoldingSegmentor',
             data_preprocessor=dict(type='DunSegDataPreprocessor',
                                    in_channels=1),
             backbone=dict(type='RPCANetPlus', num_stages=1, channels=8),
             decode_head=dict(type='StateMaskHead', state_key='T'),
             reconstruction_loss=dict(type='MSELoss', loss_weight=0.1)),
        istd_batch, pred_field('pred_score', 1, 16, 16)),
    'PriorUnfoldingSegmentor': Smoke(
        dict(type='PriorUnfoldingSegmentor',
             data_preprocessor=dict(type='DunSegDataPreprocessor',
                                    in_channels=1),
             backbone=dict(type='PriorModulatedRPCA', prior_dim=16,
                           unfolding=dict(type='RPCANetPlus', num_stages=1,
                                          channels=8)),
             prior=dict(type='CLIPDegradationPrior', clip_model=TINY_CLIP,
                        input_size=32),
             decode_head=dict(type='StateMaskHead', state_key='T')),
        istd_batch, pred_field('pred_score', 1, 16, 16)),
    'StageSelectionRestorer': Smoke(
        dict(type='StageSelectionRestorer', backbone=TINY_VLUNET,
             prior=dict(type='CLIPDegradationPrior', clip_model=TINY_CLIP,
                        input_size=32),
             selector=dict(type='LearnedQualitySelector'),
             num_candidates=3),
        restoration_batch, pred_field('pred_image', 3, 32, 32)),
    'TopHatDetector': Smoke(
        dict(type='TopHatDetector', radius=2), istd_batch,
        pred_field('pred_mask', 1, 16, 16), backward=False, loss=False),
    'LocalContrastDetector': Smoke(
        dict(type='LocalContrastDetector', scales=(3, 5)), istd_batch,
        pred_field('pred_mask', 1, 16, 16), backward=False, loss=False),
    # backbones: unfolding networks
    'RPCANet': Smoke(
        dict(type='RPCANet', num_stages=1, channels=8),
        lambda: ((rand(2, 1, 16, 16), ), {}),
        last_state_shape('T', 2, 1, 16, 16)),
    'RPCANetPlus': Smoke(
        dict(type='RPCANetPlus', num_stages=1, channels=8),
        lambda: ((rand(2, 1, 16, 16), ), {}),
        last_state_shape('D', 2, 1, 16, 16)),
    'RPCAUnfolding': Smoke(
        dict(type='RPCAUnfolding', num_stages=1, channels=8),
        lambda: ((rand(2, 1, 16, 16), ), {}),
        last_state_shape('B', 2, 1, 16, 16)),
    'RUN': Smoke(
        dict(type='RUN', in_channels=ENCODER_CHANNELS, channels=16,
             sparsity_channels=8, vss_cfg=TINY_VSS),
        lambda: ((rand(2, 3, 32, 32), features()), {}),
        last_state_shape('mask', 2, 1, 32, 32)),
    'NUN': Smoke(
        dict(type='NUN', in_channels=ENCODER_CHANNELS, channels=16,
             inner_iterations=(2, 1),
             inner_cfg=dict(type='DeRUN', prior_dim=None,
                            operator_channels=4, prox_channels=4,
                            prox_blocks=1, cue_channels=4),
             vss_cfg=TINY_VSS, background_channels=4),
        lambda: ((rand(2, 3, 32, 32), MODELS.build(TINY_ENCODER)),
                 dict(selector=MODELS.build(dict(type='LastSelector')))),
        last_state_shape('image', 2, 3, 32, 32)),
    'DeRUN': Smoke(
        dict(type='DeRUN', num_iterations=2, operator_channels=4,
             prox_channels=4, prox_blocks=1, cue_channels=4, prior_dim=8),
        lambda: ((rand(2, 3, 16, 16), rand(2, 3, 16, 16),
                  rand(2, 1, 16, 16), rand(2, 3, 16, 16)),
                 dict(prior=torch.randn(2, 8))),
        lambda out, args: (len(out) == 2 and out[-1].shape == (2, 3, 16, 16)
                           or pytest.fail('DeRUN iterates'))),
    'PriorModulatedRPCA': Smoke(
        dict(type='PriorModulatedRPCA', prior_dim=8,
             unfolding=dict(type='RPCANetPlus', num_stages=2, channels=8)),
        lambda: ((rand(2, 1, 16, 16), torch.randn(2, 8)), {}),
        last_state_shape('T', 2, 1, 16, 16)),
    'VLUNetInnerRestorer': Smoke(
        dict(type='VLUNetInnerRestorer', num_iterations=3, cue_channels=4,
             backbone=TINY_VLUNET),
        lambda: ((rand(2, 3, 12, 12), rand(2, 3, 12, 12),
                  rand(2, 1, 12, 12), rand(2, 3, 12, 12)),
                 dict(prior=torch.randn(2, 16))),
        lambda out, args: (len(out) == 3 and all(
            x.shape == (2, 3, 12, 12) for x in out)
            or pytest.fail('VLUNetInnerRestorer iterates'))),
    'VLUNet': Smoke(
        TINY_VLUNET, lambda: ((rand(2, 3, 16, 16), torch.randn(2, 16)), {}),
        last_state_shape('image', 2, 3, 16, 16)),
    'VLDUN': Smoke(
        TINY_VLDUN, lambda: ((rand(2, 1, 16, 16), torch.randn(2, 2, 16)), {}),
        last_state_shape('image', 2, 1, 16, 16)),
    'VLDUNSegHead': Smoke(
        dict(type='VLDUNSegHead', in_channels=16, num_classes=4, channels=8),
        lambda: ((rand(2, 16, 16, 16), ), {}), shape_is(2, 4, 16, 16)),
    # encoders and decoders
    'ResNetEncoder': Smoke(
        TINY_ENCODER, lambda: ((rand(2, 3, 32, 32), ), {}),
        lambda out, args: ([f.shape[1] for f in out] == list(
            ENCODER_CHANNELS) or pytest.fail('ResNet widths'))),
    'Res2NetEncoder': Smoke(  # depth 50 is the smallest Res2Net
        dict(type='Res2NetEncoder', base_width=4, scales=2),
        lambda: ((rand(2, 3, 32, 32), ), {}),
        lambda out, args: ([tuple(f.shape[1:]) for f in out] == [
            (256, 8, 8), (512, 4, 4), (1024, 2, 2), (2048, 1, 1)]
            or pytest.fail('Res2Net shapes'))),
    'FPNMaskDecoder': Smoke(
        dict(type='FPNMaskDecoder', in_channels=ENCODER_CHANNELS, channels=8),
        lambda: ((rand(2, 3, 32, 32), features()), {}),
        last_state_shape('mask', 2, 1, 32, 32)),
    'StateMaskHead': Smoke(
        dict(type='StateMaskHead', state_key='T', in_channels=2),
        lambda: ((dict(T=rand(2, 2, 16, 16)), ), {}),
        shape_is(2, 1, 16, 16)),
    'DunSegDataPreprocessor': Smoke(
        dict(type='DunSegDataPreprocessor', in_channels=1, size_divisor=8),
        lambda: ((dict(inputs=[torch.rand(1, 13, 11), torch.rand(1, 16, 9)],
                       data_samples=mask_samples(2, 16)), ), {}),
        lambda out, args: (out['inputs'].shape == (2, 1, 16, 16)
                           or pytest.fail('padded batch')),
        backward=False),
    # layers
    'BiMamba': Smoke(
        dict(type='BiMamba', d_model=8, **TINY_MAMBA),
        lambda: ((rand(2, 8, 4, 5), ), {}), same_shape),
    'MambaLayer': Smoke(
        dict(type='MambaLayer', d_model=8, **TINY_MAMBA),
        lambda: ((rand(2, 11, 8), ), {}), same_shape),
    'SS2D': Smoke(  # channels last: (B, H, W, C)
        dict(type='SS2D', d_model=8, d_state=4, scan_backend='torch'),
        lambda: ((rand(2, 5, 4, 8), ), {}), same_shape),
    'VSSBlock': Smoke(
        dict(TINY_VSS, hidden_dim=16), lambda: ((rand(2, 16, 6, 5), ), {}),
        same_shape),
    'CAB': Smoke(
        dict(type='CAB', num_feat=32), lambda: ((rand(2, 32, 6, 6), ), {}),
        same_shape),
    'RestormerBlocks': Smoke(
        dict(type='RestormerBlocks', dim=8, num_blocks=1, num_heads=2),
        lambda: ((rand(2, 8, 8, 8), ), {}), same_shape),
    'ContextModule': Smoke(
        dict(type='ContextModule', in_channels=(8, 16), out_channels=8),
        lambda: (([rand(2, 8, 8, 8), rand(2, 16, 4, 4)], ), {}),
        lambda out, args: ([tuple(o.shape) for o in out] == [
            (2, 8, 8, 8), (2, 8, 4, 4)] or pytest.fail('ContextModule'))),
    'GlobalPriorModule': Smoke(
        dict(type='GlobalPriorModule', in_channels=16, depth=8,
             dilations=(1, 2), head_channels=16),
        lambda: ((rand(2, 16, 4, 4), ), {}), shape_is(2, 1, 4, 4)),
    'ReverseEdgeUnit': Smoke(
        dict(type='ReverseEdgeUnit', channels=8, mid_channels=8),
        lambda: ((rand(2, 8, 8, 8), rand(2, 1, 4, 4)), {}),
        lambda out, args: ((out[0].shape, out[1].shape) == (
            (2, 1, 8, 8), (2, 1, 16, 16)) or pytest.fail('mask, edge'))),
    'InvertibleCouplingUNet': Smoke(
        dict(type='InvertibleCouplingUNet', in_channels=7, channels=4,
             out_channels=3),
        lambda: ((rand(2, 7, 16, 16), ), {}), shape_is(2, 3, 16, 16)),
    # priors
    'CLIPDegradationPrior': Smoke(
        dict(type='CLIPDegradationPrior', clip_model=TINY_CLIP,
             prompts=('noisy image', 'hazy image'),
             trainable=('image_adapter', 'text_adapter')),
        lambda: ((rand(2, 3, 40, 36), ), {}),
        lambda out, args: (out['logits'].shape == (2, 2)
                           or pytest.fail('logits'))),
    'CLIPDualPrior': Smoke(
        dict(type='CLIPDualPrior', clip_model=TINY_CLIP,
             trainable=('visual', 'modality_classifier')),
        lambda: ((rand(2, 1, 32, 32), ), {}),
        lambda out, args: (out['embedding'].shape == (2, 2, 16)
                           or pytest.fail('embedding'))),
    'PriorEmbeddingAdapter': Smoke(
        dict(type='PriorEmbeddingAdapter', reduce='concat',
             head=dict(type='CLIPDualPrior', clip_model=TINY_CLIP)),
        lambda: ((rand(2, 1, 32, 32), ), {}),
        lambda out, args: (out['embedding'].shape == (2, 32)
                           and out['modality_logits'].shape == (2, 2)
                           or pytest.fail('adapted embedding'))),
    'DACLIPPrior': Smoke(
        dict(type='DACLIPPrior', clip_model=TINY_CLIP,
             prompts=('noisy', 'hazy'), trainable=('controller', )),
        lambda: ((rand(2, 3, 32, 32), ), {}),
        lambda out, args: (out['logits'].shape == (2, 2)
                           or pytest.fail('logits'))),
    # selectors
    'LastSelector': Smoke(
        dict(type='LastSelector'), selector_inputs(), selection(),
        backward=False),
    'OracleSelector': Smoke(
        dict(type='OracleSelector'),
        selector_inputs(reference=lambda: rand(1, 3, 32, 32)), selection(),
        backward=False),
    'LearnedQualitySelector': Smoke(
        dict(type='LearnedQualitySelector'), selector_inputs(), selection(),
        backward=False),
    'InputAwareQualitySelector': Smoke(
        dict(type='InputAwareQualitySelector'),
        selector_inputs(observation=lambda: rand(1, 3, 32, 32)), selection(),
        backward=False),
    'CombinedIQASelector': Smoke(  # pyiqa-free parts; the IQA ones below
        dict(type='CombinedIQASelector',
             selectors=[dict(type='LastSelector'),
                        dict(type='InputAwareQualitySelector')]),
        selector_inputs(observation=lambda: rand(1, 3, 32, 32)), selection(),
        backward=False),
    # losses (no parameters): backward reaches the inputs
    'L1Loss': Smoke(
        dict(type='L1Loss'),
        lambda: ((rand(2, 3, 8, 8, grad=True), rand(2, 3, 8, 8)), {}),
        scalar),
    'MSELoss': Smoke(
        dict(type='MSELoss'),
        lambda: ((rand(2, 3, 8, 8, grad=True), rand(2, 3, 8, 8)), {}),
        scalar),
    'PSNRLoss': Smoke(
        dict(type='PSNRLoss'),
        lambda: ((rand(2, 3, 8, 8, grad=True), rand(2, 3, 8, 8)), {}),
        scalar),
    'CrossEntropyLoss': Smoke(
        dict(type='CrossEntropyLoss'),
        lambda: ((torch.randn(2, 3, 8, 8, requires_grad=True),
                  torch.randint(0, 3, (2, 8, 8))), {}), scalar),
    'FocalLoss': Smoke(
        dict(type='FocalLoss'),
        lambda: ((torch.randn(4, 3, requires_grad=True),
                  torch.tensor([0, 1, 2, 1])), {}), scalar),
    'MultiClassDiceLoss': Smoke(
        dict(type='MultiClassDiceLoss'),
        lambda: ((torch.randn(2, 3, 8, 8, requires_grad=True),
                  torch.randint(0, 3, (2, 1, 8, 8), dtype=torch.uint8)), {}),
        scalar),
    'DiceLoss': Smoke(
        dict(type='DiceLoss'),
        lambda: ((rand(2, 1, 8, 8, grad=True),
                  (torch.rand(2, 1, 8, 8) > 0.5).float()), {}), scalar),
    'StructureLoss': Smoke(
        dict(type='StructureLoss'),
        lambda: ((torch.randn(2, 1, 16, 16, requires_grad=True),
                  (torch.rand(2, 1, 16, 16) > 0.5).float()), {}), scalar),
    'SoftIoULoss': Smoke(
        dict(type='SoftIoULoss'),
        lambda: ((torch.randn(2, 1, 8, 8, requires_grad=True),
                  (torch.rand(2, 1, 8, 8) > 0.5).float()), {}), scalar),
    'UncertaintyAwareLoss': Smoke(
        dict(type='UncertaintyAwareLoss', ramp=False),
        lambda: ((torch.randn(2, 1, 8, 8, requires_grad=True), ), {}),
        scalar),
    'CrossStageConsistencyLoss': Smoke(
        dict(type='CrossStageConsistencyLoss'),
        lambda: ((torch.randn(2, 1, 8, 8, requires_grad=True),
                  torch.randn(2, 1, 8, 8)), {}), scalar),
    'DACLIPLoss': Smoke(
        dict(type='DACLIPLoss'),
        lambda: (tuple(torch.randn(4, 16, requires_grad=True)
                       for _ in range(4)) + (torch.tensor(10.0), ), {}),
        lambda out, args: (set(out) == {'loss_content', 'loss_degradation'}
                           or pytest.fail('DACLIPLoss terms'))),
}

PYIQA_REASON = (
    'needs pyiqa (optional extra, requirements/iqa.txt, not installed by '
    '`make install`) and IQA weight files dunseg never downloads; built '
    'with allow_random_init=True when pyiqa is importable, otherwise its '
    'missing-package and missing-weights errors are checked')
EXCLUDED = {
    'PyIQASelector': PYIQA_REASON,
    'TOPIQSelector': PYIQA_REASON + ' (weights: cfanet_nr_koniq_res50)',
    'MUSIQSelector': PYIQA_REASON + ' (weights: musiq_koniq_ckpt)',
    'NUNIQASelector':
    'TOPIQ + MUSIQ (+ Q-Align) with local weight files only: no random-init '
    'option; its missing-weights error is checked',
    'QAlignSelector':
    'needs the ~16 GB q-future/one-align snapshot in the local Hugging Face '
    'cache (and pyiqa); its missing-cache error is checked',
    'MMagicProximal':
    'needs the optional mmagic extra (requirements/mmagic.txt, not installed '
    'by `make install`); run tiny (NAFNet) when mmagic is importable, '
    'otherwise its install-hint ImportError is checked',
}


def registered_models():
    # every module of the package, also those no __init__ imports yet
    for info in pkgutil.walk_packages(dunseg.models.__path__,
                                      'dunseg.models.'):
        importlib.import_module(info.name)
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if cls.__module__.startswith('dunseg'))


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    # tiny tensors: extra threads only contend on a shared machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_registered_model_has_a_smoke_entry():
    registered = set(registered_models())
    assert len(registered) >= 61
    assert not set(TINY) & set(EXCLUDED)
    missing = registered - set(TINY) - set(EXCLUDED)
    stale = (set(TINY) | set(EXCLUDED)) - registered
    assert not missing, (
        f'{sorted(missing)} registered in MODELS without a smoke entry: add a '
        'tiny config and inputs to TINY in '
        'tests/test_models/test_registry_smoke.py (the fast test tier must '
        'build and run every component)')
    assert not stale, f'{sorted(stale)} are no longer registered: remove them'


def tensors_in(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors_in(item)


def assert_finite(value, what):
    for tensor in tensors_in(value):
        if tensor.is_floating_point():
            assert torch.isfinite(tensor).all(), what


def assert_gradients(model, leaves, name):
    trainable = [(n, p) for n, p in model.named_parameters()
                 if p.requires_grad]
    reached = [(n, p.grad) for n, p in trainable if p.grad is not None]
    reached += [('input', t.grad) for t in leaves if t.grad is not None]
    assert reached, f'{name}: backward reached no parameter and no input'
    for what, grad in reached:
        assert torch.isfinite(grad).all(), f'{name}: non-finite grad {what}'


def build(name, tmp_path):
    cfg = TINY[name].cfg
    cfg = cfg(tmp_path) if callable(cfg) else dict(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    assert isinstance(model, MODELS.module_dict[name])
    return model


@pytest.mark.parametrize('name', sorted(TINY))
def test_tiny_build_forward_backward(name, tmp_path):
    entry = TINY[name]
    model = build(name, tmp_path)
    if isinstance(model, BaseModel):
        run_architecture(name, model, entry)
    else:
        run_module(name, model, entry)


def run_module(name, model, entry):
    model.train()
    torch.manual_seed(1)
    args, kwargs = entry.inputs()
    out = model(*args, **kwargs)
    assert_finite(out, f'{name}: non-finite output')
    if entry.check is not None:
        entry.check(out, args)
    if not entry.backward:
        return
    outputs = [t for t in tensors_in(out) if t.requires_grad]
    assert outputs, f'{name}: no differentiable output'
    sum(t.float().mean() for t in outputs).backward()
    leaves = [t for t in tensors_in((args, kwargs))
              if t.requires_grad and t.is_leaf]
    assert_gradients(model, leaves, name)


def run_architecture(name, model, entry):
    torch.manual_seed(1)
    if entry.loss:
        model.train()
        data = model.data_preprocessor(entry.inputs(), True)
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        assert torch.isfinite(loss), f'{name}: loss {losses}'
        loss.backward()
        assert_gradients(model, [], name)
    else:
        with pytest.raises(RuntimeError, match='training-free'):
            model(**model.data_preprocessor(entry.inputs(), True),
                  mode='loss')
    model.eval()
    batch = entry.inputs()
    with torch.no_grad():
        predictions = model(**model.data_preprocessor(batch, False),
                            mode='predict')
    assert len(predictions) == len(batch['data_samples'])
    for sample in predictions:
        for key in ('pred_score', 'pred_mask', 'pred_image'):
            if key in sample:
                assert_finite(getattr(sample, key).data,
                              f'{name}: non-finite {key}')
        if 'pred_scores' in sample:
            assert_finite(sample.pred_scores, f'{name}: pred_scores')
    if entry.check is not None:
        entry.check(predictions, batch)


# ---- the excluded components: their errors, or a run where possible --------

PYIQA = importlib.util.find_spec('pyiqa') is not None


@pytest.mark.parametrize('name,cfg', [
    ('PyIQASelector', dict(metric='topiq_nr')),
    ('TOPIQSelector', dict()),
    ('MUSIQSelector', dict()),
])
def test_pyiqa_selectors_without_weights(name, cfg, tmp_path):
    # no weight file: a clear error, never a download
    with pytest.raises(ValueError, match='no pretrained_model_path'):
        MODELS.build(dict(type=name, **cfg))
    missing = str(tmp_path / 'weights.pth')
    with pytest.raises(FileNotFoundError, match='never downloads'):
        MODELS.build(dict(type=name, pretrained_model_path=missing, **cfg))
    random_init = dict(type=name, allow_random_init=True, **cfg)
    if not PYIQA:
        with pytest.raises(ImportError, match='requirements/iqa.txt'):
            MODELS.build(random_init)
        return
    # pyiqa's pretrained=False: the architecture with random weights
    selector = MODELS.build(random_init)
    index, scores = selector(torch.rand(1, 2, 3, 64, 64))
    assert index.shape == (1, ) and scores.shape == (1, 2)
    assert torch.isfinite(scores).all()


def test_nun_iqa_selector_without_weights(tmp_path):
    with pytest.raises(ValueError, match='no pretrained_model_path'):
        MODELS.build(dict(type='NUNIQASelector', with_qalign=False))
    with pytest.raises(FileNotFoundError, match='cfanet'):
        MODELS.build(dict(type='NUNIQASelector', with_qalign=False,
                          topiq_weights=str(tmp_path / 'topiq.pth')))


def test_qalign_selector_without_the_cache(monkeypatch):
    huggingface_hub = pytest.importorskip('huggingface_hub')
    monkeypatch.setattr(huggingface_hub, 'try_to_load_from_cache',
                        lambda *args, **kwargs: None)
    with pytest.raises(FileNotFoundError, match='huggingface-cli download'):
        MODELS.build(dict(type='QAlignSelector'))


TINY_NAFNET = dict(type='NAFNet', mid_channels=8, middle_blk_num=1,
                   enc_blk_nums=[1], dec_blk_nums=[1])


def test_mmagic_proximal(monkeypatch):
    cfg = dict(type='MMagicProximal', dim=8, arch=TINY_NAFNET)
    if importlib.util.find_spec('mmagic') is None:
        monkeypatch.setitem(sys.modules, 'mmagic', None)
        with pytest.raises(ImportError, match='pip install --no-deps mmagic'):
            MODELS.build(cfg)
        return
    torch.manual_seed(0)
    prox = MODELS.build(cfg)
    x = torch.rand(2, 8, 16, 16, requires_grad=True)
    out = prox(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    out.square().mean().backward()
    assert torch.isfinite(x.grad).all()
