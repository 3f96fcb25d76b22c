"""Fit one prior head's embedding to another backbone's prior slot.

The prior heads agree on a dict with ``'embedding'`` (docs/components.md)
but not on its shape: :class:`~dunseg.models.priors.DACLIPPrior` and
:class:`~dunseg.models.priors.CLIPDegradationPrior` give one vector per
image (N, E), :class:`~dunseg.models.priors.CLIPDualPrior` two (N, 2, E),
modality and degradation. The backbones read (N, prior_dim) (VLU-Net,
DeRUN, :class:`~dunseg.models.unfolding.PriorModulatedRPCA`) or
(N, V, prior_dim) (VL-DUN, which also takes (N, prior_dim) as V = 1).
:class:`PriorEmbeddingAdapter` wraps a prior head and reshapes its
embedding for the slot; everything else the head returns (logits, the
dual prior's named vectors) passes through unchanged.
"""
from typing import Dict, Optional, Union

import torch
from mmengine.model import BaseModule

from dunseg.registry import MODELS

#: How a (N, V, E) embedding becomes (N, E'): ``'concat'`` (E' = V·E),
#: ``'mean'`` (E' = E) or an int, the vector kept (0 = the dual prior's
#: modality vector, 1 its degradation vector).
REDUCTIONS = ('concat', 'mean')


@MODELS.register_module()
class PriorEmbeddingAdapter(BaseModule):
    """A prior head whose ``embedding`` is reshaped for a backbone's slot.

    ``forward(images)`` runs the wrapped head and returns its dict with
    ``embedding`` replaced:

    - ``key``: which entry of the head's output becomes the embedding
      (``'embedding'``; e.g. ``'degradation_embedding'`` of the dual prior,
      or ``'content'`` of DA-CLIP);
    - ``reduce``: for a (N, V, E) entry, ``'concat'`` -> (N, V·E),
      ``'mean'`` -> (N, E), an int v -> vector v (N, E); None keeps the
      shape (a (N, E) entry is never reduced);
    - ``num_vectors``: with an int, a (N, E) entry is repeated to
      (N, num_vectors, E), so a one-vector head fills a slot built for
      several (VL-DUN's ``num_prior_vectors``).

    ``embed_dim`` is the length of the adapted vectors, what the
    architectures compare with the backbone's ``prior_dim``. The wrapped
    head is ``self.head``; its weights are ``prior.head.*`` in a model's
    state dict, so load tuned weights through the head's own arguments
    (``pretrained``, ``daclip_pretrained``, ``official_pretrained``).

    Args:
        head (dict): the prior head config.
        key (str): the output entry used as the embedding.
        reduce (str | int, optional): see above.
        num_vectors (int, optional): see above.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 head: dict,
                 key: str = 'embedding',
                 reduce: Optional[Union[str, int]] = None,
                 num_vectors: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if reduce is not None and not isinstance(reduce, int) and \
                reduce not in REDUCTIONS:
            raise ValueError(f'PriorEmbeddingAdapter: reduce must be one of '
                             f'{REDUCTIONS}, a vector index or None, got '
                             f'{reduce!r}')
        if num_vectors is not None and num_vectors < 1:
            raise ValueError('PriorEmbeddingAdapter: num_vectors must be '
                             f'>= 1, got {num_vectors}')
        if reduce is not None and num_vectors is not None:
            raise ValueError('PriorEmbeddingAdapter: give reduce (fewer '
                             'vectors) or num_vectors (more), not both')
        self.head = MODELS.build(head)
        self.key = key
        self.reduce = reduce
        self.num_vectors = num_vectors
        head_dim = getattr(self.head, 'embed_dim', None)
        if head_dim is None:
            raise AttributeError(
                f'PriorEmbeddingAdapter: {type(self.head).__name__} has no '
                'embed_dim; a prior head must say how long its vectors are')
        head_vectors = getattr(self.head, 'num_prior_vectors', 1)
        self.head_dim = int(head_dim)
        self.embed_dim = (self.head_dim * head_vectors
                          if reduce == 'concat' else self.head_dim)
        self.num_prior_vectors = (num_vectors if num_vectors is not None
                                  else 1 if reduce is not None
                                  else head_vectors)

    def adapt(self, embedding: torch.Tensor) -> torch.Tensor:
        if embedding.dim() == 2:
            if self.num_vectors is None:
                return embedding
            return embedding.unsqueeze(1).expand(-1, self.num_vectors, -1)
        if embedding.dim() != 3:
            raise ValueError(
                f'PriorEmbeddingAdapter: {type(self.head).__name__}'
                f"['{self.key}'] has shape {tuple(embedding.shape)}; expected "
                '(N, E) or (N, V, E)')
        if self.reduce is None:
            return embedding
        if self.reduce == 'concat':
            return embedding.flatten(1)
        if self.reduce == 'mean':
            return embedding.mean(1)
        if not -embedding.shape[1] <= self.reduce < embedding.shape[1]:
            raise IndexError(
                f'PriorEmbeddingAdapter: reduce={self.reduce} but '
                f'{type(self.head).__name__} gives {embedding.shape[1]} '
                'vectors per image')
        return embedding[:, self.reduce]

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        out = self.head(images)
        if not isinstance(out, dict):
            out = dict(embedding=out)
        if self.key not in out:
            raise KeyError(
                f'PriorEmbeddingAdapter: {type(self.head).__name__} returned '
                f'{sorted(out)}, no {self.key!r}; set key to one of them')
        out = dict(out)
        out['embedding'] = self.adapt(out[self.key])
        return out


__all__ = ['PriorEmbeddingAdapter', 'REDUCTIONS']
