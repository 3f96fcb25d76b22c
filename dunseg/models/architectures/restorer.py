"""Image restoration by a deep unfolding network, optionally prior-guided."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import nn

from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

State = Dict[str, torch.Tensor]


def stack_gt_images(data_samples: Sequence[DunSegDataSample],
                    device: Optional[torch.device] = None) -> torch.Tensor:
    """Stack ``gt_image`` of a batch into a float tensor of shape (N, C, H, W).

    Raises a ValueError naming the image when a sample has no clean image or
    the clean images of a batch differ in size.
    """
    images = []
    for sample in data_samples:
        if 'gt_image' not in sample:
            raise ValueError(
                f'data sample of {sample.metainfo.get("img_path", "?")} has '
                'no gt_image; restoration training needs clean images '
                '(a paired loader or the Degrade transform before '
                'PackRestorationInputs)')
        images.append(sample.gt_image.data)
    shapes = {tuple(img.shape) for img in images}
    if len(shapes) > 1:
        raise ValueError(
            f'clean images in one batch differ in shape {sorted(shapes)}; add '
            'PairedRandomCrop so every training sample has the same size')
    out = torch.stack(images).float()
    return out.to(device) if device is not None else out


class StageReadout(nn.Module):
    """Maps one stage's features back to the image: conv3x3, upsample, + input.

    The hierarchical unfolding keeps features, not images, between stages;
    this head (one per stage, not part of the published model) makes every
    stage's estimate an image, for a stage-wise loss and for visualisation.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 scale: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, 3, padding=1, bias=False)
        self.scale = scale

    def forward(self, features: torch.Tensor,
                inputs: torch.Tensor) -> torch.Tensor:
        residual = self.conv(features)
        if self.scale != 1:
            residual = F.interpolate(
                residual, size=inputs.shape[-2:], mode='bilinear',
                align_corners=False)
        return residual + inputs


@MODELS.register_module()
class Restorer(DunSegModel):
    """Prior head -> unfolding backbone -> restored image (e.g. VLU-Net).

    The prior head (optional, e.g. ``CLIPDegradationPrior``) maps the
    degraded input to a vector that conditions every stage's gradient step;
    the backbone unrolls the stages and returns their states, the last one
    holding the restored ``'image'``.

    Args:
        backbone (dict): Unfolding backbone, e.g. ``dict(type='VLUNet')``.
        prior (dict, optional): Prior head; its ``embedding`` output is passed
            to the backbone as ``prior``. None = no prior.
        loss (dict): Loss between the restored and clean images
            (``L1Loss`` as in VLU-Net).
        stage_loss_weight (float): Weight of the same loss on every stage's
            image estimate (averaged over stages; 0 = final output only, the
            official recipe). Non-zero values add per-stage readout heads.
        stage_readouts (bool): Build the per-stage readout heads even
            without a stage loss (for stage images in predict mode).
        prior_classes (sequence of str, optional): Names of the prior's
            prompts, so predictions carry the recognised degradation name.
        prior_checkpoint (str, optional): A dunseg checkpoint whose
            ``prior.*`` weights (e.g. from ``CLIPAdapterClassifier``, the
            adapter fine-tuning) are loaded into the prior head by
            :meth:`init_weights`; loaded with ``weights_only=True``.
        size_divisor (int): Inputs are reflect-padded to a multiple of this
            (the backbone downsamples 3 times) and outputs cropped back.
        return_stages (bool): Attach every stage's output to the predicted
            data samples (``stage_states``).
        data_preprocessor (dict, optional): Defaults to
            ``DunSegDataPreprocessor``.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 backbone: dict,
                 prior: Optional[dict] = None,
                 loss: dict = dict(type='L1Loss'),
                 stage_loss_weight: float = 0.0,
                 stage_readouts: bool = False,
                 prior_classes: Optional[Sequence[str]] = None,
                 prior_checkpoint: Optional[str] = None,
                 size_divisor: int = 8,
                 return_stages: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.prior = MODELS.build(prior) if prior is not None else None
        if self.prior is not None:
            backbone_dim = getattr(self.backbone, 'prior_dim', None)
            prior_dim = getattr(self.prior, 'embed_dim', None)
            if backbone_dim is not None and prior_dim is not None and \
                    backbone_dim != prior_dim:
                raise ValueError(
                    f'the prior head gives {prior_dim}-d embeddings but the '
                    f'backbone expects prior_dim={backbone_dim}; set '
                    f'model.backbone.prior_dim={prior_dim}')
        self.loss_fn = MODELS.build(loss)
        self.stage_loss_weight = float(stage_loss_weight)
        self.prior_classes = tuple(prior_classes) if prior_classes else None
        if prior_checkpoint is not None and self.prior is None:
            raise ValueError('prior_checkpoint is set but the model has no '
                             'prior head; add model.prior or drop it')
        self.prior_checkpoint = prior_checkpoint
        self.size_divisor = size_divisor
        self.return_stages = return_stages
        self.stage_readouts = None
        if stage_loss_weight > 0 or stage_readouts:
            self.stage_readouts = self._build_stage_readouts()

    # ------------------------------------------------------------------ #
    def _probe_stage_shapes(self):
        """Run the backbone once on a small input to learn each stage's
        feature shape (channels and stride)."""
        size = 2 * self.size_divisor
        in_channels = getattr(self.backbone, 'in_channels', 3)
        probe = torch.zeros(1, in_channels, size, size)
        prior = None
        if self.prior is not None:
            prior = torch.zeros(1, self.prior.embed_dim)
        was_training = self.backbone.training
        self.backbone.eval()
        with torch.no_grad():
            states = self.backbone(probe, prior=prior)
        self.backbone.train(was_training)
        return [state['x'].shape for state in states], size

    def _build_stage_readouts(self) -> nn.ModuleList:
        shapes, size = self._probe_stage_shapes()
        out_channels = getattr(self.backbone, 'out_channels', 3)
        return nn.ModuleList([
            StageReadout(shape[1], out_channels, size // shape[-1])
            for shape in shapes
        ])

    def init_weights(self) -> None:
        super().init_weights()
        if self.prior_checkpoint is not None:
            self.load_prior_checkpoint(self.prior_checkpoint)

    def load_prior_checkpoint(self, path: str) -> None:
        """Load the ``prior.*`` weights of a dunseg checkpoint strictly."""
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'prior_checkpoint {path!r} does not exist; train the prior '
                'first (e.g. configs/vlunet/'
                'clip-adapter_tiny_12e_synthetic-degradation-64x64.py) or set '
                'model.prior_checkpoint=None')
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
        state = checkpoint.get('state_dict', checkpoint)
        prior_state = {
            key[len('prior.'):]: value
            for key, value in state.items() if key.startswith('prior.')
        }
        if not prior_state:
            raise KeyError(f'{path} holds no "prior.*" weights; give the '
                           'checkpoint of a model with a prior head')
        missing, unexpected = self.prior.load_state_dict(
            prior_state, strict=False)
        # buffers rebuilt from the config (e.g. prompt tokens) may be absent
        missing = [k for k in missing if k in dict(
            self.prior.named_parameters())]
        if missing or unexpected:
            raise KeyError(
                f'{path}: prior weights do not match model.prior (missing '
                f'{missing[:5]}, unexpected {unexpected[:5]}); use the same '
                'prior config as the run that wrote the checkpoint')

    # ------------------------------------------------------------------ #
    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        return self.restore(inputs)[0][-1]['image']

    def extract_prior(self, inputs: torch.Tensor) -> Optional[dict]:
        if self.prior is None:
            return None
        return self.prior(inputs)

    def _pad(self, inputs: torch.Tensor) -> torch.Tensor:
        h, w = inputs.shape[-2:]
        d = self.size_divisor
        ph, pw = (-h) % d, (-w) % d
        if ph == 0 and pw == 0:
            return inputs
        mode = 'reflect' if ph < h and pw < w else 'replicate'
        return F.pad(inputs, (0, pw, 0, ph), mode=mode)

    def restore(self, inputs: torch.Tensor):
        """Run prior + backbone; returns (states cropped to the input size,
        prior output). ``states[-1]['image']`` is the restored image."""
        h, w = inputs.shape[-2:]
        prior_out = self.extract_prior(inputs)
        embedding = prior_out['embedding'] if prior_out is not None else None
        padded = self._pad(inputs)
        states = self.backbone(padded, prior=embedding)
        if padded is not inputs:
            states[-1] = dict(states[-1])
            states[-1]['image'] = states[-1]['image'][..., :h, :w]
        return states, prior_out, padded

    def stage_images(self, states: List[State],
                     padded: torch.Tensor) -> List[torch.Tensor]:
        h, w = padded.shape[-2:]
        return [
            readout(state['x'], padded)[..., :h, :w]
            for readout, state in zip(self.stage_readouts, states)
        ]

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        states, _, padded = self.restore(inputs)
        output = states[-1]['image']
        gt = stack_gt_images(data_samples, output.device)
        if gt.shape != output.shape:
            raise ValueError(
                f'restored images have shape {tuple(output.shape)} but the '
                f'clean images {tuple(gt.shape)}; degraded and clean images '
                'must be cropped together (PairedRandomCrop)')
        name = getattr(self.loss_fn, 'loss_name', 'loss_restore')
        losses = {name: self.loss_fn(output, gt)}
        if self.stage_loss_weight > 0:
            h, w = inputs.shape[-2:]
            stage_losses = [
                self.loss_fn(img[..., :h, :w], gt)
                for img in self.stage_images(states, padded)
            ]
            losses['loss_stages'] = self.stage_loss_weight * torch.stack(
                stage_losses).mean()
        return losses

    @staticmethod
    def _feature_energy(states: List[State], size) -> torch.Tensor:
        """Per-stage channel-RMS of the features, upsampled to the image size
        and scaled to [0, 1] per stage: (N, K, 1, H, W)."""
        maps = []
        for state in states:
            energy = state['x'].float().pow(2).mean(1, keepdim=True).sqrt()
            energy = F.interpolate(
                energy, size=size, mode='bilinear', align_corners=False)
            peak = energy.flatten(1).amax(1).clamp_min(1e-12)
            maps.append(energy / peak.view(-1, 1, 1, 1))
        return torch.stack(maps, dim=1)

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        h, w = inputs.shape[-2:]
        states, prior_out, padded = self.restore(inputs)
        restored = states[-1]['image'].clamp(0, 1)
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        stage_stack = None
        if self.return_stages:
            if self.stage_readouts is not None:
                stage_stack = dict(image=torch.stack(
                    [img.clamp(0, 1) for img in
                     self.stage_images(states, padded)], dim=1))
            else:
                stage_stack = dict(
                    feature_energy=self._feature_energy(states, (h, w)))
        logits = prior_out.get('logits') if prior_out is not None else None
        for i, sample in enumerate(data_samples):
            sh, sw = sample.metainfo.get('img_shape', (h, w))[:2]
            sample.pred_image = PixelData(
                data=restored[i, :, :sh, :sw].contiguous())
            sample.input_image = PixelData(
                data=inputs[i, :, :sh, :sw].contiguous())
            if logits is not None:
                scores = logits[i].float().softmax(-1)
                label = int(scores.argmax())
                sample.pred_label = torch.tensor(label)
                sample.pred_scores = scores.cpu()
                if self.prior_classes is not None and \
                        label < len(self.prior_classes):
                    sample.set_metainfo(
                        dict(pred_degradation=self.prior_classes[label]))
            if stage_stack is not None:
                sample.stage_states = {
                    key: value[i, :, :, :sh, :sw].cpu()
                    for key, value in stage_stack.items()
                }
        return data_samples
