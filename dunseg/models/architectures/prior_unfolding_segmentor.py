"""Segmentation by an unfolding network with a degradation prior head."""
import os.path as osp
from typing import Dict, List, Optional

import torch

from dunseg.registry import MODELS

from .restorer import Restorer
from .unfolding_segmentor import UnfoldingSegmentor


@MODELS.register_module()
class PriorUnfoldingSegmentor(UnfoldingSegmentor):
    """:class:`UnfoldingSegmentor` whose backbone is steered by a prior head.

    The prior head (``CLIPDegradationPrior``, ``DACLIPPrior``, a
    ``PriorEmbeddingAdapter`` around the dual prior, ...) reads the input;
    its ``embedding`` is the backbone's ``prior`` argument (e.g.
    ``PriorModulatedRPCA``). Without a prior head the model is an
    :class:`UnfoldingSegmentor`.

    Args:
        prior (dict, optional): The prior head.
        prior_checkpoint (str, optional): A dunseg checkpoint whose
            ``prior.*`` weights load into the head (strictly) in
            :meth:`init_weights`, e.g. a ``CLIPAdapterClassifier`` run.
        **kwargs: :class:`UnfoldingSegmentor`'s arguments.
    """

    def __init__(self,
                 prior: Optional[dict] = None,
                 prior_checkpoint: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.prior = MODELS.build(prior) if prior is not None else None
        if self.prior is not None:
            backbone_dim = getattr(self.backbone, 'prior_dim', None)
            if backbone_dim is None:
                raise ValueError(
                    f'{type(self.backbone).__name__} takes no prior '
                    '(no prior_dim); use a prior-conditioned backbone, e.g. '
                    "dict(type='PriorModulatedRPCA', unfolding=...), or drop "
                    'model.prior')
            if backbone_dim != self.prior.embed_dim:
                raise ValueError(
                    f'the prior head gives {self.prior.embed_dim}-d '
                    f'embeddings but the backbone expects prior_dim='
                    f'{backbone_dim}; set model.backbone.prior_dim='
                    f'{self.prior.embed_dim}')
        elif getattr(self.backbone, 'prior_dim', None) is not None:
            raise ValueError(
                f'{type(self.backbone).__name__} needs a prior (prior_dim='
                f'{self.backbone.prior_dim}) but model.prior is None')
        if prior_checkpoint is not None and self.prior is None:
            raise ValueError('prior_checkpoint is set but the model has no '
                             'prior head; add model.prior or drop it')
        self.prior_checkpoint = prior_checkpoint

    def init_weights(self) -> None:
        super().init_weights()
        if self.prior_checkpoint is not None:
            if not osp.isfile(self.prior_checkpoint):
                raise FileNotFoundError(
                    f'prior_checkpoint {self.prior_checkpoint!r} does not '
                    'exist; tune the prior first (configs/vlunet/'
                    'clip-adapter_tiny_12e_synthetic-degradation-64x64.py) '
                    'or set model.prior_checkpoint=None')
            Restorer.load_prior_checkpoint(self, self.prior_checkpoint)

    def extract_states(self, inputs: torch.Tensor
                       ) -> List[Dict[str, torch.Tensor]]:
        if self.prior is None:
            return super().extract_states(inputs)
        embedding = self.prior(inputs)['embedding']
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.backbone(inputs, prior=embedding)


__all__ = ['PriorUnfoldingSegmentor']
