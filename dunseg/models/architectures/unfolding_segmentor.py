from typing import Dict, List, Optional

import torch
from mmengine.structures import PixelData

from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample, stack_gt_masks


@MODELS.register_module()
class UnfoldingSegmentor(DunSegModel):
    """Segmentation by a deep unfolding network: backbone -> state -> mask.

    ``backbone`` unrolls K stages and returns every stage's state (a dict of
    named tensors); ``decode_head`` reads the mask logits from the final
    state and owns the segmentation loss; ``reconstruction_loss`` (optional)
    ties one state tensor to the input image, e.g. RPCANet's data-fidelity
    term ``γ ||D^K - D||^2``.

    Args:
        backbone (dict): Unfolding backbone config, e.g.
            ``dict(type='RPCANet')``.
        decode_head (dict): Mask read-out, e.g. ``dict(type='StateMaskHead')``.
        reconstruction_loss (dict, optional): Loss between
            ``final_state[reconstruction_key]`` and the network input.
        reconstruction_key (str): State tensor for the reconstruction loss.
        data_preprocessor (dict, optional): Defaults to
            ``DunSegDataPreprocessor``.
        channels_last (bool): Keep conv weights in channels-last memory
            format (about 1.2-1.5x faster convolutions on CPU).
        return_stages (bool): Attach every stage's state to the predicted
            data samples (``stage_states``) for visualisation.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 reconstruction_loss: Optional[dict] = None,
                 reconstruction_key: str = 'D',
                 data_preprocessor: Optional[dict] = None,
                 channels_last: bool = False,
                 return_stages: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.decode_head = MODELS.build(decode_head)
        self.reconstruction_loss = (
            MODELS.build(reconstruction_loss)
            if reconstruction_loss is not None else None)
        self.reconstruction_key = reconstruction_key
        self.return_stages = return_stages
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def extract_states(self, inputs: torch.Tensor
                       ) -> List[Dict[str, torch.Tensor]]:
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.backbone(inputs)

    def _forward(self, inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None
                 ) -> torch.Tensor:
        """Mask logits (N, 1, H, W); used by FLOP counting and export."""
        return self.decode_head(self.extract_states(inputs)[-1])

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        final_state = self.extract_states(inputs)[-1]
        logits = self.decode_head(final_state)
        gt = stack_gt_masks(data_samples, logits.device)
        losses = self.decode_head.loss(logits, gt)
        if self.reconstruction_loss is not None:
            name = getattr(self.reconstruction_loss, 'loss_name',
                           'loss_reconstruction')
            losses[name] = self.reconstruction_loss(
                final_state[self.reconstruction_key], inputs)
        return losses

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        states = self.extract_states(inputs)
        scores = self.decode_head.predict(self.decode_head(states[-1]))
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        stacked = None
        if self.return_stages:
            stacked = {
                key: torch.stack([s[key] for s in states], dim=1)
                for key in states[-1]
            }
        for i, sample in enumerate(data_samples):
            h, w = sample.metainfo.get('img_shape', scores.shape[-2:])[:2]
            score = scores[i, :, :h, :w].contiguous()
            sample.pred_score = PixelData(data=score)
            sample.pred_mask = PixelData(
                data=(score > self.decode_head.threshold).to(torch.uint8))
            if stacked is not None:
                sample.stage_states = {
                    key: value[i, :, :, :h, :w].cpu()
                    for key, value in stacked.items()
                }
        return data_samples
