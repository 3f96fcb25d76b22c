"""NUN as an MMEngine model: prior head -> nested unfolding (with the
selector between DeRUN iterates) -> losses / predictions."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.structures import PixelData

from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

from ..unfolding.nun import prior_vector
from .cod_segmentor import stack_gt_field

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@MODELS.register_module()
class NUNSegmentor(DunSegModel):
    """Concealed object segmentation under degradation (NUN, He et al.,
    arXiv 2511.18164).

    Inputs are images in [0, 1] (no normalisation in the data
    preprocessor): the restoration works on intensities, and the encoder
    sees ``(x − ImageNet mean) / std`` of the original and the restored
    images (``encoder_mean`` / ``encoder_std``).

    Loss (paper Sec. 4.4)::

        L = Σ_k w_k (mask_loss(M_k, G) + restoration_loss(X_k, X))
            + ε · L_csc,          w_k = 1 / 2^{K−k}

    with X_k the selected restoration of stage k, X the clean image
    (``gt_image``; a sample without one, i.e. clean data, is its own
    target, so clean and degraded samples mix in a batch) and L_csc over
    the stages k >= 2 (``consistency_loss``).

    Args:
        encoder (dict): Image encoder (four levels).
        backbone (dict): The nested unfolding (``NUN``); ``in_channels``
            defaults to the encoder's.
        prior (dict, optional): Degradation prior head (``DACLIPPrior``,
            ``CLIPDegradationPrior``, ...); its ``embedding`` is d. None =
            the implicit variant (the inner restorer must have
            ``prior_dim=None``).
        prior_schedule (str): ``'stage1'``: d of the input, computed once
            (the paper's default); ``'every_iteration'``: recomputed from
            every DeRUN iterate's input.
        selector (dict, optional): BUI selector; None = the last iterate.
        mask_loss (dict): Loss on each stage's mask logits.
        restoration_loss (dict, optional): Loss of X_k against the clean
            image.
        consistency_loss (dict, optional): L_csc; None switches it off.
        stage_loss_weights (sequence of float, optional): One per stage;
            None = 1 / 2^{K−k}.
        edge_loss (dict, optional) and edge_loss_weights: an optional loss
            on the stages' edge maps vs ``gt_edge`` (RUN trains with one;
            the NUN paper does not list it).
        prior_loss_weight (float): Weight of ``mask_loss`` on the initial
            mask M_0 (the global prior module's coarse map). RUN trains its
            prior with 1/16; the NUN paper's L_basic starts at stage 1, so
            0 (off) by default.
        uncertainty_loss (dict, optional): RUN's uncertainty-aware loss on
            the final mask logits (``UncertaintyAwareLoss``); the NUN paper
            does not list it, so None by default. With it NUN trains with
            RUN's mask losses, which isolates what the nesting adds.
        threshold (float): ``pred_mask = pred_score > threshold``.
        return_stages (bool): Attach every stage's maps and DeRUN iterates
            with their scores to the predictions.
        channels_last (bool): Keep weights and inputs in channels-last
            memory. Same outputs up to float rounding; a NUN-tiny training
            step on one CPU thread takes 1.87 s instead of 2.21 s
            (docs/benchmarks.md), while RUN-tiny's gets slower.
    """

    def __init__(self,
                 encoder: dict,
                 backbone: dict,
                 prior: Optional[dict] = None,
                 prior_schedule: str = 'stage1',
                 selector: Optional[dict] = None,
                 mask_loss: dict = dict(type='StructureLoss'),
                 restoration_loss: Optional[dict] = dict(
                     type='MSELoss', loss_name='loss_restoration'),
                 consistency_loss: Optional[dict] = dict(
                     type='CrossStageConsistencyLoss', loss_weight=0.1),
                 stage_loss_weights: Optional[Sequence[float]] = None,
                 edge_loss: Optional[dict] = None,
                 edge_loss_weights: Optional[Sequence[float]] = None,
                 prior_loss_weight: float = 0.0,
                 uncertainty_loss: Optional[dict] = None,
                 encoder_mean: Sequence[float] = IMAGENET_MEAN,
                 encoder_std: Sequence[float] = IMAGENET_STD,
                 threshold: float = 0.5,
                 return_stages: bool = False,
                 channels_last: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='DunSegDataPreprocessor',
                                     in_channels=3)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if prior_schedule not in ('stage1', 'every_iteration'):
            raise ValueError("prior_schedule must be 'stage1' or "
                             f"'every_iteration', got {prior_schedule!r}")
        self.encoder = MODELS.build(encoder)
        backbone = dict(backbone)
        backbone.setdefault('in_channels', tuple(self.encoder.out_channels))
        self.backbone = MODELS.build(backbone)
        self.prior = MODELS.build(prior) if prior else None
        self.prior_schedule = prior_schedule
        self.selector = MODELS.build(selector) if selector else None
        if self.selector is not None:
            # selection is a discrete choice made without gradients: its
            # weights (a learned quality net) are never trained by NUN
            self.selector.requires_grad_(False)
        self.mask_loss = MODELS.build(mask_loss)
        self.restoration_loss = (MODELS.build(restoration_loss)
                                 if restoration_loss else None)
        self.consistency_loss = (MODELS.build(consistency_loss)
                                 if consistency_loss else None)
        self.edge_loss = MODELS.build(edge_loss) if edge_loss else None
        self.uncertainty_loss = (MODELS.build(uncertainty_loss)
                                 if uncertainty_loss else None)
        num_stages = self.backbone.num_stages
        if stage_loss_weights is None:
            stage_loss_weights = [
                1 / 2**(num_stages - k) for k in range(1, num_stages + 1)
            ]
        for name, weights in (('stage_loss_weights', stage_loss_weights),
                              ('edge_loss_weights', edge_loss_weights)):
            if weights is not None and len(weights) != num_stages:
                raise ValueError(f'{name} needs one weight per stage '
                                 f'({num_stages}), got {len(weights)}')
        if self.edge_loss is not None and edge_loss_weights is None:
            raise ValueError('edge_loss needs edge_loss_weights (one per '
                             'stage)')
        if prior_loss_weight < 0:
            raise ValueError('prior_loss_weight must be >= 0, got '
                             f'{prior_loss_weight}')
        self.stage_loss_weights = tuple(stage_loss_weights)
        self.prior_loss_weight = float(prior_loss_weight)
        self.edge_loss_weights = tuple(edge_loss_weights or ())
        self.register_buffer(
            'encoder_mean', torch.tensor(encoder_mean).view(1, -1, 1, 1),
            persistent=False)
        self.register_buffer(
            'encoder_std', torch.tensor(encoder_std).view(1, -1, 1, 1),
            persistent=False)
        self.threshold = threshold
        self.return_stages = return_stages
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------ pieces
    def encode(self, images: torch.Tensor) -> Sequence[torch.Tensor]:
        return self.encoder((images - self.encoder_mean) / self.encoder_std)

    def degradation_prior(self, images: torch.Tensor) -> torch.Tensor:
        return prior_vector(self.prior(images.clamp(0, 1)))

    def extract_states(self, inputs: torch.Tensor,
                       reference: Optional[torch.Tensor] = None,
                       with_second_best: bool = False
                       ) -> List[Dict[str, torch.Tensor]]:
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        prior = prior_fn = None
        if self.prior is not None:
            if self.prior_schedule == 'stage1':
                prior = self.degradation_prior(inputs)
            else:
                prior_fn = self.degradation_prior
        return self.backbone(
            inputs, self.encode, prior=prior, prior_fn=prior_fn,
            selector=self.selector, reference=reference,
            with_second_best=with_second_best)

    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        return self.extract_states(inputs)[-1]['mask']

    @staticmethod
    def clean_images(inputs: torch.Tensor,
                      data_samples: Sequence[DunSegDataSample]
                      ) -> torch.Tensor:
        """The clean targets: a sample's ``gt_image`` where it has one (a
        degraded sample), else its input (a clean sample is its own
        restoration target)."""
        clean = inputs.clone()
        for i, sample in enumerate(data_samples):
            if 'gt_image' in sample:
                gt = sample.gt_image.data.to(inputs)
                if gt.shape != inputs.shape[1:]:
                    raise ValueError(
                        f'gt_image of {sample.metainfo.get("img_path", "?")}'
                        f' has shape {tuple(gt.shape)}, the input '
                        f'{tuple(inputs.shape[1:])}; degrade after resizing')
                clean[i] = gt
        return clean

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        clean = self.clean_images(inputs, data_samples)
        states = self.extract_states(
            inputs, reference=clean,
            with_second_best=self.consistency_loss is not None)
        gt_mask = stack_gt_field(data_samples, 'gt_mask', inputs.device)
        gt_edge = (stack_gt_field(data_samples, 'gt_edge', inputs.device)
                   if self.edge_loss is not None else None)
        losses: Dict[str, torch.Tensor] = {}
        if self.prior_loss_weight:
            losses['loss_mask_prior'] = self.prior_loss_weight * \
                self.mask_loss(states[0]['mask'], gt_mask)
        consistency = []
        for k, state in enumerate(states[1:], start=1):
            weight = self.stage_loss_weights[k - 1]
            if weight:
                losses[f'loss_mask_stage{k}'] = weight * self.mask_loss(
                    state['mask'], gt_mask)
                if self.restoration_loss is not None:
                    losses[f'loss_restoration_stage{k}'] = (
                        weight * self.restoration_loss(state['image'], clean))
            if self.edge_loss is not None and self.edge_loss_weights[k - 1]:
                losses[f'loss_edge_stage{k}'] = (
                    self.edge_loss_weights[k - 1] *
                    self.edge_loss(state['edge'], gt_edge))
            if 'mask_second' in state:
                consistency.append(
                    self.consistency_loss(state['mask'],
                                          state['mask_second']))
        if consistency:
            losses['loss_csc'] = torch.stack(consistency).mean()
        if self.uncertainty_loss is not None:
            losses['loss_ual'] = self.uncertainty_loss(states[-1]['mask'])
        return losses

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        # only full-reference selectors (the oracle) read the reference
        reference = (self.clean_images(inputs, data_samples)
                     if data_samples else None)
        states = self.extract_states(inputs, reference=reference)
        final = states[-1]
        scores = torch.sigmoid(final['mask'])
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        for i, sample in enumerate(data_samples):
            h, w = sample.metainfo.get('img_shape', scores.shape[-2:])[:2]
            score = scores[i, :, :h, :w].contiguous()
            sample.pred_score = PixelData(data=score)
            sample.pred_mask = PixelData(
                data=(score > self.threshold).to(torch.uint8))
            sample.pred_image = PixelData(
                data=final['image'][i, :, :h, :w].clamp(0, 1).contiguous())
            # the degraded input, scored by RestorationMetric as the
            # identity baseline a restoration must beat
            sample.input_image = PixelData(
                data=inputs[i, :, :h, :w].contiguous())
            sample.set_metainfo(dict(
                selected_iterates=[int(s['selected'][i])
                                   for s in states[1:]]))
            if self.return_stages:
                sample.stage_states = {
                    'mask': torch.stack([
                        torch.sigmoid(s['mask'][i, :, :h, :w])
                        for s in states]).cpu(),
                    'background': torch.stack([
                        s['background'][i, :, :h, :w] for s in states]).cpu(),
                    'image': torch.stack([
                        s['image'][i, :, :h, :w].clamp(0, 1)
                        for s in states]).cpu(),
                }
                sample.set_metainfo(dict(
                    derun_iterates=[
                        s['iterates'][i, :, :, :h, :w].clamp(0, 1).cpu()
                        for s in states[1:]
                    ],
                    derun_scores=[s['scores'][i].cpu() for s in states[1:]],
                    derun_first_iterate=[
                        int(s.get('first_iterate', 1)) for s in states[1:]
                    ]))
        return data_samples
