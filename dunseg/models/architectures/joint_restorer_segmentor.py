"""Joint medical restoration + segmentation: VL-DUN (arXiv 2601.23103).

Wires the CLIP dual prior -> the Attention-Mamba unfolding network ->
the Rec. Head (inside the backbone) and the Seg. Head, and owns the losses

    L = w_rec · L1(x̂, x) + w_ce · CE(S, G) + w_dice · Dice(S, G)
        [+ L_mod (focal) + L_deg (CE)  when the prior is fine-tuned]

(Sec. 3.2-3.4; the paper gives no weights, the config does).
"""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import nn

from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

from .medical_segmentor import MultiClassSegMixin
from .restorer import StageReadout, stack_gt_images


@MODELS.register_module()
class JointRestorerSegmentor(MultiClassSegMixin, DunSegModel):
    """Prior head -> VL-DUN -> restored slice + segmentation.

    Inputs are zero-filled slices (N, 1, H, W) (``PackMedicalInputs``); data
    samples carry ``gt_image``, ``gt_mask`` (class indices), ``kspace_mask``
    and metainfo ``modality`` / ``dataset_name``.

    Predictions: ``pred_image`` (1, H, W), ``pred_mask`` (1, H, W) long class
    indices, ``pred_score`` (classes, H, W) softmax probabilities, metainfo
    ``pred_modality`` / ``pred_degradation`` (names, when the prior has
    them) with ``pred_<kind>_scores`` (probabilities) and
    ``pred_<kind>_classes`` (the prior's class names) and, with
    ``return_stages`` and readouts, ``stage_states['image']`` (K, 1, H, W):
    every stage's image through a per-stage readout (conv3x3 + upsample +
    input, :class:`~dunseg.models.architectures.restorer.StageReadout`).

    Ablations (Table 3): w/o CLIP = ``prior=None`` and
    ``backbone.use_prior=False`` (learned prompts); w/o FD =
    ``backbone.frequency_decoupling=False``; w/o Seg Head = ``seg_head=None``
    (restoration only); the known operator = ``backbone.physical_operator=
    True`` (the batch's k-space operator from ``kspace_mask``).

    Args:
        backbone (dict): ``dict(type='VLDUN', ...)``.
        prior (dict, optional): ``dict(type='CLIPDualPrior', ...)``; None for
            the learned-prompt / physical-operator variants.
        seg_head (dict, optional): ``dict(type='VLDUNSegHead',
            num_classes=...)``; ``in_channels`` is filled in from the
            backbone. None = restoration only.
        rec_loss (dict): Restoration loss (L1, weight in ``loss_weight``).
        seg_losses (sequence[dict]): Segmentation losses on the class
            logits (CE and multi-class Dice).
        train_prior (bool): Add the prior's own losses (modality focal loss,
            degradation CE) for the labels found in the metainfo; the
            prior's ``trainable`` parts decide what they update.
        modality_key (str): Metainfo key of the modality class
            (``dataset_name``: one class per dataset, as the paper).
        degradation_key (str): Metainfo key of the degradation class
            (``kspace_pattern``).
        stage_readouts (bool): Build per-stage readouts (stage images).
            With ``stage_loss_weight=0`` they still learn, from detached
            stage features (``loss_stage_readout``, no gradient reaches the
            network, whose training is unchanged): untrained readouts would
            draw noise, and DDP needs every parameter to get a gradient.
        stage_loss_weight (float): Weight of the L1 on every stage's image
            (0 = final output only).
        return_stages (bool): Put every stage's image in the predictions
            (builds the readouts).
        prior_checkpoint (str, optional): A checkpoint whose ``prior.*``
            weights (the dual-prior fine-tuning) load into the prior.
        label_spaces (dict, optional): ``dataset_name -> [global class of
            local label 0, 1, ...]`` for joint training on datasets whose
            labels differ (ACDC's 1 = RV, COVID-19-CT's 1 = infection): the
            Seg. Head predicts the union (e.g. 7 classes: background, RV,
            myocardium, LV, tumour, infection, liver tumour), the losses
            see global labels, the Dice loss scores only the image's own
            classes, and predictions are restricted to the sample's
            dataset's classes and given back as its local indices. None =
            one shared label space.
        prior_only (bool): Fine-tune the prior alone (step 1 of the paper,
            Sec. 3.3): ``loss`` runs only the prior and its losses (needs
            ``train_prior``) and logs the recognition accuracies; the
            unfolding network is not run. ``predict`` is unchanged.
        size_divisor (int): In predict mode slices whose size is not a
            multiple of this (VL-DUN downsamples 3 times) are reflect-padded
            and the outputs cropped back (not with the physical operator,
            whose mask has the slice's size).
        data_preprocessor (dict, optional): Defaults to
            ``DunSegDataPreprocessor``.
        init_cfg (dict, optional): MMEngine init config.

    Inference inputs name no dataset: with ``label_spaces`` the dataset
    the modality prior recognised (``pred_modality``, one class per
    dataset) chooses the label space.
    """

    missing_mask_hint = ' (or build the model with seg_head=None)'

    def __init__(self,
                 backbone: dict,
                 prior: Optional[dict] = None,
                 seg_head: Optional[dict] = dict(
                     type='VLDUNSegHead', num_classes=4),
                 rec_loss: dict = dict(type='L1Loss', loss_name='loss_rec'),
                 seg_losses: Sequence[dict] = (
                     dict(type='CrossEntropyLoss', loss_name='loss_seg_ce'),
                     dict(type='MultiClassDiceLoss',
                          loss_name='loss_seg_dice')),
                 train_prior: bool = False,
                 modality_key: str = 'dataset_name',
                 degradation_key: str = 'kspace_pattern',
                 stage_readouts: bool = False,
                 stage_loss_weight: float = 0.0,
                 return_stages: bool = False,
                 prior_checkpoint: Optional[str] = None,
                 label_spaces: Optional[Dict[str, Sequence[int]]] = None,
                 prior_only: bool = False,
                 size_divisor: int = 8,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.prior = MODELS.build(prior) if prior is not None else None
        if self.prior is not None and getattr(self.backbone, 'prior_dim',
                                              None) != self.prior.embed_dim:
            raise ValueError(
                f'the prior head gives {self.prior.embed_dim}-d vectors but '
                f'the backbone expects prior_dim='
                f'{getattr(self.backbone, "prior_dim", None)}; set '
                f'model.backbone.prior_dim={self.prior.embed_dim}')
        if self.prior is None and getattr(self.backbone, 'use_prior', False) \
                and not getattr(self.backbone, 'physical_operator', False):
            raise ValueError(
                'model.prior is None but the backbone expects a prior '
                '(use_prior=True); set model.backbone.use_prior=False for '
                'the learned-prompt variant (w/o CLIP)')
        self.seg_head = None
        if seg_head is not None:
            seg_head = copy.deepcopy(dict(seg_head))
            seg_head.setdefault('in_channels', self.backbone.final_channels)
            self.seg_head = MODELS.build(seg_head)
        self.rec_loss = MODELS.build(rec_loss)
        self.seg_losses = nn.ModuleList(
            [MODELS.build(cfg) for cfg in seg_losses])
        self.train_prior = train_prior
        if train_prior and self.prior is None:
            raise ValueError('train_prior=True needs model.prior')
        if prior_only and not train_prior:
            raise ValueError('prior_only=True fine-tunes the prior alone and '
                             'needs train_prior=True')
        self.prior_only = prior_only
        self.modality_key = modality_key
        self.degradation_key = degradation_key
        self.stage_loss_weight = float(stage_loss_weight)
        self.return_stages = return_stages
        self.stage_readouts = None
        if stage_readouts or stage_loss_weight > 0 or return_stages:
            self.stage_readouts = self._build_stage_readouts()
        if prior_checkpoint is not None and self.prior is None:
            raise ValueError('prior_checkpoint is set but the model has no '
                             'prior head; add model.prior or drop it')
        self.prior_checkpoint = prior_checkpoint
        self.size_divisor = int(size_divisor)
        self._set_label_spaces(label_spaces)

    @property
    def needs_kspace_mask(self) -> bool:
        """The known-operator and data-consistency variants: samples must
        carry ``kspace_mask`` (inference: :func:`dunseg.apis.inference_model`
        ``kspace_mask``)."""
        backbone = self.backbone
        return bool(getattr(backbone, 'needs_operator',
                            getattr(backbone, 'physical_operator', False)))

    def _label_space(self, sample) -> Optional[torch.Tensor]:
        name = sample.metainfo.get('dataset_name')
        recognised = sample.metainfo.get('pred_modality')
        if (self.label_spaces is not None and name is None
                and self.modality_key == 'dataset_name'
                and recognised in self.label_spaces):
            # an inference input: the recognised dataset's classes
            return torch.tensor(self.label_spaces[recognised],
                                dtype=torch.long)
        return super()._label_space(sample)

    # ------------------------------------------------------------------ #
    def _build_stage_readouts(self) -> nn.ModuleList:
        channels = [self.backbone.dim_of_stage(name)
                    for name in self.backbone.stage_names]
        scales = [2**(level - 1) for level in self.backbone.stage_levels]
        out = self.backbone.out_channels
        return nn.ModuleList([
            StageReadout(c, out, s) for c, s in zip(channels, scales)
        ])

    def init_weights(self) -> None:
        super().init_weights()
        if self.prior_checkpoint is not None:
            import os.path as osp

            from .restorer import Restorer
            if not osp.isfile(self.prior_checkpoint):
                raise FileNotFoundError(
                    f'prior_checkpoint {self.prior_checkpoint!r} does not '
                    'exist; tune the dual prior first (configs/vldun/'
                    'clip-dual-prior_tiny_0.5k_synthetic-phantom-64x64.py or '
                    'clip-dual-prior_vit-b-32_10e_medical4-256x256.py) or set '
                    'model.prior_checkpoint=None')
            # same prior.* key layout, same strict loading
            Restorer.load_prior_checkpoint(self, self.prior_checkpoint)

    # ------------------------------------------------------------------ #
    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        states, _, _ = self.run(inputs, data_samples)
        return states[-1]['image']

    def _operator(self, data_samples):
        if not self.needs_kspace_mask:
            return None
        if not data_samples:
            raise ValueError(
                'the physical-operator and data-consistency variants need '
                'data samples with kspace_mask (KSpaceUndersample + '
                'PackMedicalInputs); '
                "mode='tensor' without them cannot build the operator")
        from dunseg.physics.undersampling import kspace_operator_from_masks
        return kspace_operator_from_masks(data_samples)

    def _pad(self, inputs: torch.Tensor) -> torch.Tensor:
        """Reflect-pad H and W up to multiples of ``size_divisor``
        (bottom / right)."""
        h, w = inputs.shape[-2:]
        d = self.size_divisor
        ph, pw = (-h) % d, (-w) % d
        if (ph == 0 and pw == 0) or self.needs_kspace_mask:
            return inputs  # the physical operator's mask fixes the size
        mode = 'reflect' if ph < h and pw < w else 'replicate'
        return F.pad(inputs, (0, pw, 0, ph), mode=mode)

    def run(self, inputs: torch.Tensor,
            data_samples: Optional[List[DunSegDataSample]] = None,
            pad: bool = False):
        """Prior, unfolding and Seg. Head: (states, prior output, seg
        logits or None). With ``pad`` the backbone sees the slices padded
        to multiples of ``size_divisor``; the final image and the logits
        are cropped back (the states' features are not)."""
        h, w = inputs.shape[-2:]
        prior_out = self.prior(inputs) if self.prior is not None else None
        embedding = prior_out['embedding'] if prior_out is not None else None
        operator = self._operator(data_samples)
        if operator is not None:
            # built on the host from the metainfo: a non-blocking copy
            operator = operator.to(inputs.device, non_blocking=True)
        padded = self._pad(inputs) if pad else inputs
        states = self.backbone(padded, prior=embedding, operator=operator)
        seg_logits = None
        if self.seg_head is not None:
            seg_logits = self.seg_head(states[-1]['x'])[..., :h, :w]
        if padded is not inputs:
            states[-1] = dict(states[-1],
                              image=states[-1]['image'][..., :h, :w])
        return states, prior_out, seg_logits

    def stage_images(self, states, inputs,
                     detach: bool = False) -> List[torch.Tensor]:
        """Every stage's image (readout of its features + the input); pads
        ``inputs`` as :meth:`run` did when the features are larger."""
        h, w = inputs.shape[-2:]
        full = states[0]['x'].shape[-2:]
        padded = inputs if tuple(full) == (h, w) else self._pad(inputs)
        return [
            readout(state['x'].detach() if detach else state['x'],
                    padded)[..., :h, :w]
            for readout, state in zip(self.stage_readouts, states)
        ]

    # ------------------------------------------------------------------ #
    def _labels(self, data_samples, key: str, classes: Sequence[str],
                device) -> Optional[torch.Tensor]:
        values = [s.metainfo.get(key) for s in data_samples]
        if any(v is None for v in values):
            return None
        labels = []
        for value in values:
            if value not in classes:
                raise ValueError(
                    f'metainfo[{key!r}] = {value!r} is not one of the '
                    f"prior's classes {tuple(classes)}; list it in the prior "
                    'config (modality_classes / degradation_classes)')
            labels.append(classes.index(value))
        # a non-blocking copy: the host does not wait for the device
        return torch.tensor(labels, dtype=torch.long).to(device,
                                                         non_blocking=True)

    def prior_losses(self, prior_out: dict,
                     data_samples) -> Dict[str, torch.Tensor]:
        """The prior's focal / CE losses and its recognition accuracies
        (percent; logged, not optimised: their keys hold no 'loss')."""
        prior, device = self.prior, prior_out['embedding'].device
        labels = dict(
            modality=self._labels(data_samples, self.modality_key,
                                  prior.modality_classes, device),
            degradation=self._labels(data_samples, self.degradation_key,
                                     prior.degradation_classes, device))
        losses = prior.loss(prior_out, labels['modality'],
                            labels['degradation'])
        for kind, label in labels.items():
            if label is not None:
                hits = prior_out[f'{kind}_logits'].detach().argmax(1) == label
                losses[f'{kind}_accuracy'] = hits.float().mean() * 100
        return losses

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        if self.prior_only:
            return self.prior_losses(self.prior(inputs), data_samples)
        states, prior_out, seg_logits = self.run(inputs, data_samples)
        restored = states[-1]['image']
        gt = stack_gt_images(data_samples, restored.device)
        if gt.shape != restored.shape:
            raise ValueError(
                f'restored slices have shape {tuple(restored.shape)} but the '
                f'clean slices {tuple(gt.shape)}; crop them together')
        losses = {self.rec_loss.loss_name: self.rec_loss(restored, gt)}
        if self.stage_loss_weight > 0:
            losses['loss_stages'] = self.stage_loss_weight * torch.stack([
                self.rec_loss(img, gt)
                for img in self.stage_images(states, inputs)
            ]).mean()
        elif self.stage_readouts is not None:
            # readouts for the stage images only: detached features, so the
            # network trains as without them
            losses['loss_stage_readout'] = torch.stack([
                F.l1_loss(img, gt) for img in self.stage_images(
                    states, inputs, detach=True)
            ]).mean()
        if seg_logits is not None:
            losses.update(self.seg_loss(seg_logits, data_samples))
        if self.train_prior:
            losses.update(self.prior_losses(prior_out, data_samples))
        return losses

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        states, prior_out, seg_logits = self.run(inputs, data_samples,
                                                 pad=True)
        restored = states[-1]['image'].clamp(0, 1)
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        if prior_out is not None:  # before the label spaces, which use it
            for i, sample in enumerate(data_samples):
                sample.set_metainfo(self._recognised(prior_out, i))
        scores = [None] * len(inputs)
        if seg_logits is not None:
            scores = self.seg_scores(seg_logits, data_samples)
        stages = None
        if self.return_stages and self.stage_readouts is not None:
            stages = torch.stack([
                img.clamp(0, 1) for img in self.stage_images(states, inputs)
            ], dim=1)
        for i, sample in enumerate(data_samples):
            sample.pred_image = PixelData(data=restored[i])
            sample.input_image = PixelData(data=inputs[i])
            if scores[i] is not None:
                self.set_seg_prediction(sample, scores[i])
            if stages is not None:
                sample.stage_states = dict(image=stages[i].cpu())
        return data_samples

    def _recognised(self, prior_out: dict, index: int) -> dict:
        info = {}
        for kind in ('modality', 'degradation'):
            logits = prior_out.get(f'{kind}_logits')
            classes = getattr(self.prior, f'{kind}_classes', None)
            if logits is None or classes is None:
                continue
            probs = logits[index].float().softmax(-1)
            info[f'pred_{kind}'] = classes[int(probs.argmax())]
            info[f'pred_{kind}_scores'] = probs.cpu()
            info[f'pred_{kind}_classes'] = tuple(classes)
        return info


__all__ = ['JointRestorerSegmentor']
