from typing import Dict, List, Optional, Sequence

import torch
from mmengine.structures import PixelData

from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample


def stack_gt_field(data_samples: Sequence[DunSegDataSample], field: str,
                   device: Optional[torch.device] = None) -> torch.Tensor:
    """Stack a (1, H, W) ground-truth field of a batch as floats (N, 1, H, W).

    Raises a ValueError naming the image when a sample lacks the field (e.g.
    ``gt_edge`` without an edge-loading or edge-deriving transform) or the
    batch mixes sizes.
    """
    maps = []
    for sample in data_samples:
        if field not in sample:
            raise ValueError(
                f'data sample of {sample.metainfo.get("img_path", "?")} has '
                f'no {field}; the training pipeline must load or derive it '
                '(COD datasets: gt_mask from GT/, gt_edge from Edge/ or '
                'derived from the mask) before PackCODInputs')
        maps.append(getattr(sample, field).data)
    shapes = {tuple(m.shape) for m in maps}
    if len(shapes) > 1:
        raise ValueError(f'{field} maps in one batch differ in shape '
                         f'{sorted(shapes)}; resize them to one size')
    out = torch.stack(maps).float()
    return out.to(device) if device is not None else out


@MODELS.register_module()
class CODSegmentor(DunSegModel):
    """Concealed object segmentation: encoder -> unfolding backbone -> losses.

    The encoder (e.g. :class:`~dunseg.models.encoders.ResNetEncoder`) maps the
    image to four feature levels; the unfolding backbone (e.g. ``RUN``) takes
    the image and the features and returns the list of stage states, each a
    dict with a ``mask`` (logits at the input size) and optionally ``edge``
    and ``background``. The last state's mask is the prediction.

    Losses (RUN's recipe by default, ``Train.py``)::

        Σ_i a_i · mask_loss(M_i, G) + Σ_i b_i · edge_loss(E_i, edge GT)
          + uncertainty_loss(M_final) + Σ_i c_i · rec_loss(m(M_i) ⊙ I + B_i, I)

    with ``a = stage_loss_weights``, ``b = edge_loss_weights``,
    ``c = reconstruction_loss_weights`` aligned with the states (a weight of
    0 skips that state) and ``m`` the backbone's ``data_mask`` (σ or
    identity). The official RUN code computes and logs the reconstruction
    term but does not add it to the total; it is off by default
    (``reconstruction_loss=None``).

    Args:
        encoder (dict): Image encoder config.
        backbone (dict): Unfolding backbone config; ``in_channels`` defaults
            to the encoder's ``out_channels``.
        mask_loss (dict): Loss on each stage's mask logits.
        stage_loss_weights (sequence of float): One weight per state (RUN:
            prior 1/16, stages 4..1: 1/8, 1/4, 1/2, 1).
        edge_loss (dict, optional): Loss on the stages' edge maps vs
            ``gt_edge``.
        edge_loss_weights (sequence of float): One per state (RUN: stage 4
            unsupervised, stages 3..1: 1/8, 1/4, 1/2).
        uncertainty_loss (dict, optional): Loss on the final mask logits
            (RUN: ``UncertaintyAwareLoss`` with weight 2).
        reconstruction_loss (dict, optional): e.g. ``dict(type='MSELoss')``.
        reconstruction_loss_weights (sequence of float): One per state.
        threshold (float): ``pred_mask = pred_score > threshold``.
        return_stages (bool): Attach every state's maps to the predictions
            (``stage_states``: masks as probabilities, edges, backgrounds
            mapped back to the image range by ``B · std + mean``), for
            visualisation.
        data_preprocessor (dict, optional): Defaults to
            ``DunSegDataPreprocessor`` with ImageNet mean/std on [0, 1]
            inputs.
    """

    def __init__(self,
                 encoder: dict,
                 backbone: dict,
                 mask_loss: dict = dict(type='StructureLoss'),
                 stage_loss_weights: Sequence[float] = (1 / 16, 1 / 8,
                                                        1 / 4, 1 / 2, 1),
                 edge_loss: Optional[dict] = dict(type='DiceLoss'),
                 edge_loss_weights: Sequence[float] = (0, 0, 1 / 8, 1 / 4,
                                                       1 / 2),
                 uncertainty_loss: Optional[dict] = dict(
                     type='UncertaintyAwareLoss', loss_weight=2.0),
                 reconstruction_loss: Optional[dict] = None,
                 reconstruction_loss_weights: Sequence[float] = (0, 1 / 8,
                                                                 1 / 4, 1 / 2,
                                                                 1),
                 threshold: float = 0.5,
                 return_stages: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='DunSegDataPreprocessor',
                mean=[0.485, 0.456, 0.406],
                std=[0.229, 0.224, 0.225],
                in_channels=3)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.encoder = MODELS.build(encoder)
        backbone = dict(backbone)
        backbone.setdefault('in_channels', tuple(self.encoder.out_channels))
        self.backbone = MODELS.build(backbone)
        self.mask_loss = MODELS.build(mask_loss)
        self.edge_loss = MODELS.build(edge_loss) if edge_loss else None
        self.uncertainty_loss = (
            MODELS.build(uncertainty_loss) if uncertainty_loss else None)
        self.reconstruction_loss = (
            MODELS.build(reconstruction_loss)
            if reconstruction_loss else None)
        self.stage_loss_weights = tuple(stage_loss_weights)
        self.edge_loss_weights = tuple(edge_loss_weights)
        self.reconstruction_loss_weights = tuple(reconstruction_loss_weights)
        self.threshold = threshold
        self.return_stages = return_stages

    def extract_states(self, inputs: torch.Tensor
                       ) -> List[Dict[str, torch.Tensor]]:
        return self.backbone(inputs, self.encoder(inputs))

    def _forward(self, inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None
                 ) -> torch.Tensor:
        """Final mask logits (N, 1, H, W); used by FLOP counting and export."""
        return self.extract_states(inputs)[-1]['mask']

    def _check_weights(self, name: str, weights: Sequence[float],
                       num_states: int) -> None:
        if len(weights) != num_states:
            raise ValueError(
                f'{name} has {len(weights)} entries but the backbone returns '
                f'{num_states} states; give one weight per state (0 skips '
                'one)')

    def _stage_name(self, index: int) -> str:
        names = getattr(self.backbone, 'stage_names', None)
        return names[index] if names else f's{index}'

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        states = self.extract_states(inputs)
        gt_mask = stack_gt_field(data_samples, 'gt_mask', inputs.device)
        losses: Dict[str, torch.Tensor] = {}
        self._check_weights('stage_loss_weights', self.stage_loss_weights,
                            len(states))
        for index, (weight, state) in enumerate(
                zip(self.stage_loss_weights, states)):
            if weight:
                losses[f'loss_mask_{self._stage_name(index)}'] = (
                    weight * self.mask_loss(state['mask'], gt_mask))
        if self.edge_loss is not None:
            self._check_weights('edge_loss_weights', self.edge_loss_weights,
                                len(states))
            gt_edge = stack_gt_field(data_samples, 'gt_edge', inputs.device)
            for index, (weight, state) in enumerate(
                    zip(self.edge_loss_weights, states)):
                if weight:
                    losses[f'loss_edge_{self._stage_name(index)}'] = (
                        weight * self.edge_loss(state['edge'], gt_edge))
        if self.uncertainty_loss is not None:
            losses['loss_ual'] = self.uncertainty_loss(states[-1]['mask'])
        if self.reconstruction_loss is not None:
            self._check_weights('reconstruction_loss_weights',
                                self.reconstruction_loss_weights, len(states))
            data_mask = getattr(self.backbone, 'data_mask', torch.sigmoid)
            for index, (weight, state) in enumerate(
                    zip(self.reconstruction_loss_weights, states)):
                if weight:
                    recon = (data_mask(state['mask']) * inputs +
                             state['background'])
                    losses[f'loss_rec_{self._stage_name(index)}'] = (
                        weight * self.reconstruction_loss(recon, inputs))
        return losses

    def _to_image_range(self, image: torch.Tensor) -> torch.Tensor:
        """Undo the data preprocessor's normalisation (``x · std + mean``)."""
        preprocessor = self.data_preprocessor
        if getattr(preprocessor, 'normalize', False):
            return image * preprocessor.std + preprocessor.mean
        return image

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        states = self.extract_states(inputs)
        scores = torch.sigmoid(states[-1]['mask'])
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        stacked = None
        if self.return_stages:
            stacked = {}
            # first-seen order (mask, background, edge, ...): a set would
            # order the drawn rows by string hash, differently every run
            for key in dict.fromkeys(k for state in states for k in state):
                maps = [s[key] for s in states if key in s]
                if key.startswith('mask'):
                    maps = [torch.sigmoid(m) for m in maps]
                elif key == 'background':
                    maps = [self._to_image_range(m) for m in maps]
                stacked[key] = torch.stack(maps, dim=1)
        for i, sample in enumerate(data_samples):
            # Drop the data preprocessor's bottom/right padding, if any.
            h, w = sample.metainfo.get('img_shape', scores.shape[-2:])[:2]
            score = scores[i, :, :h, :w].contiguous()
            sample.pred_score = PixelData(data=score)
            sample.pred_mask = PixelData(
                data=(score > self.threshold).to(torch.uint8))
            if stacked is not None:
                sample.stage_states = {
                    key: value[i, :, :, :h, :w].cpu()
                    for key, value in stacked.items()
                }
        return data_samples
