"""A restorer that chooses its output among its last stages.

NUN's bi-directional unfolding interaction (He et al., arXiv 2511.18164,
Sec. 4.3) scores the iterates of its inner unfolding with an image-quality
selector and passes the best one on. :class:`StageSelectionRestorer`
applies that choice to a single-pass unfolding restorer such as VLU-Net:
its last stages are read out to images and the selector picks one per
image.
"""
from typing import Dict, List, Optional

import torch
from mmengine.structures import PixelData
from torch import nn

from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

from ..selectors.base import gather_candidates
from .restorer import Restorer, StageReadout, stack_gt_images


@MODELS.register_module()
class StageSelectionRestorer(Restorer):
    """Prior -> unfolding backbone -> selector over its last stages.

    The candidates are the images of the backbone's last
    ``num_candidates`` stages, coarse to fine: the earlier ones through a
    per-stage readout (conv3x3 + upsample + input,
    :class:`~dunseg.models.architectures.restorer.StageReadout`), the last
    one the backbone's own output. The selector (NUN's contract,
    ``selector(candidates, reference, observation=...)`` -> ``(index,
    scores)``, no gradient) picks one per image; None takes the output,
    which makes the model its parent :class:`Restorer` plus readouts.

    Loss: the restoration loss (named by the loss's ``loss_name``) on the
    chosen candidate (NUN trains its chosen restoration) plus
    ``candidate_loss_weight`` times the mean of the same loss over every
    candidate (``loss_candidates``), so that readouts a selector passes
    over still learn (and every parameter gets a gradient).

    Predictions: ``pred_image`` is the chosen candidate; metainfo
    ``selected_stage`` (the stage name; the output carries the last
    stage's, whose features the output conv reads) and ``stage_scores`` (the
    selector's scores over ``candidate_stages``); with a prior that has
    logits, ``pred_label`` / ``pred_scores`` / ``pred_degradation`` as
    :class:`Restorer` gives them.

    Args:
        selector (dict, optional): The selector; frozen (its weights are
            never trained here). ``OracleSelector`` reads the clean image.
        num_candidates (int): Stages offered to the selector (>= 1).
        candidate_loss_weight (float): See above.
        **kwargs: :class:`Restorer`'s arguments (``stage_loss_weight`` and
            ``stage_readouts`` are not used: the candidates have their own
            readouts).
    """

    def __init__(self,
                 selector: Optional[dict] = None,
                 num_candidates: int = 4,
                 candidate_loss_weight: float = 1.0,
                 **kwargs) -> None:
        for unused in ('stage_loss_weight', 'stage_readouts'):
            if kwargs.get(unused):
                raise ValueError(
                    f'StageSelectionRestorer: {unused} is not used (every '
                    'candidate stage has its readout and candidate_loss_'
                    'weight weighs their loss); drop it')
        super().__init__(**kwargs)
        names = tuple(getattr(self.backbone, 'stage_names', ()))
        if not 1 <= num_candidates <= len(names):
            raise ValueError(
                f'StageSelectionRestorer: num_candidates must be 1..'
                f'{len(names)} ({type(self.backbone).__name__} stages '
                f'{names}), got {num_candidates}')
        if candidate_loss_weight < 0:
            raise ValueError('candidate_loss_weight must be >= 0, got '
                             f'{candidate_loss_weight}')
        self.num_candidates = int(num_candidates)
        self.candidate_stages = names[-self.num_candidates:]
        self.candidate_loss_weight = float(candidate_loss_weight)
        shapes, size = self._probe_stage_shapes()
        out_channels = getattr(self.backbone, 'out_channels', 3)
        self.candidate_readouts = nn.ModuleList(
            StageReadout(shape[1], out_channels, size // shape[-1])
            for shape in shapes[-self.num_candidates:-1])
        self.selector = MODELS.build(selector) if selector else None
        if self.selector is not None:
            self.selector.requires_grad_(False)

    def candidates(self, inputs: torch.Tensor):
        """(N, S, C, H, W) images of the candidate stages, coarse to fine,
        and the prior head's output."""
        states, prior_out, padded = self.restore(inputs)
        h, w = inputs.shape[-2:]
        first = len(states) - self.num_candidates
        images = [
            readout(state['x'], padded)[..., :h, :w]
            for readout, state in zip(self.candidate_readouts,
                                      states[first:-1])
        ]
        images.append(states[-1]['image'])
        return torch.stack(images, dim=1), prior_out

    def select(self, inputs: torch.Tensor,
               reference: Optional[torch.Tensor] = None):
        """(candidates, chosen index (N,), scores (N, S), prior output)."""
        candidates, prior_out = self.candidates(inputs)
        n, steps = candidates.shape[:2]
        if self.selector is None:
            index = torch.full((n, ), steps - 1, dtype=torch.long,
                               device=inputs.device)
            scores = torch.arange(steps, dtype=inputs.dtype,
                                  device=inputs.device).expand(n, -1)
            return candidates, index, scores, prior_out
        # selectors score images in [0, 1]
        seen = candidates.detach().clamp(0, 1)
        if getattr(self.selector, 'needs_observation', False):
            index, scores = self.selector(seen, reference,
                                          observation=inputs)
        else:
            index, scores = self.selector(seen, reference)
        return candidates, index, scores, prior_out

    def _forward(self, inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        candidates, index, _, _ = self.select(inputs)
        return gather_candidates(candidates, index)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        gt = stack_gt_images(data_samples, inputs.device)
        if gt.shape != inputs.shape:
            raise ValueError(
                f'degraded images have shape {tuple(inputs.shape)} but the '
                f'clean images {tuple(gt.shape)}; crop them together '
                '(PairedRandomCrop)')
        candidates, index, _, _ = self.select(inputs, reference=gt)
        name = getattr(self.loss_fn, 'loss_name', 'loss_restore')
        losses = {
            name: self.loss_fn(gather_candidates(candidates, index), gt)
        }
        if self.candidate_loss_weight > 0:
            losses['loss_candidates'] = self.candidate_loss_weight * \
                torch.stack([
                    self.loss_fn(candidates[:, s], gt)
                    for s in range(candidates.shape[1])
                ]).mean()
        return losses

    def _set_recognition(self, sample: DunSegDataSample,
                         logits: torch.Tensor) -> None:
        scores = logits.float().softmax(-1)
        label = int(scores.argmax())
        sample.pred_label = torch.tensor(label)
        sample.pred_scores = scores.cpu()
        if self.prior_classes is not None and label < len(
                self.prior_classes):
            sample.set_metainfo(
                dict(pred_degradation=self.prior_classes[label]))

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        reference = None
        if data_samples and all('gt_image' in s for s in data_samples):
            # only full-reference selectors (the oracle) read it
            reference = stack_gt_images(data_samples, inputs.device)
        candidates, index, scores, prior_out = self.select(inputs, reference)
        restored = gather_candidates(candidates, index).clamp(0, 1)
        logits = prior_out.get('logits') if prior_out is not None else None
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        h, w = inputs.shape[-2:]
        for i, sample in enumerate(data_samples):
            sh, sw = sample.metainfo.get('img_shape', (h, w))[:2]
            if logits is not None:
                # the recognised degradation, as Restorer reports it
                self._set_recognition(sample, logits[i])
            sample.pred_image = PixelData(
                data=restored[i, :, :sh, :sw].contiguous())
            sample.input_image = PixelData(
                data=inputs[i, :, :sh, :sw].contiguous())
            sample.set_metainfo(dict(
                selected_stage=self.candidate_stages[int(index[i])],
                stage_scores=scores[i].cpu()))
        return data_samples


__all__ = ['StageSelectionRestorer']
