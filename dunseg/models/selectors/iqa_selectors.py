"""No-reference IQA selectors over pyiqa, and NUN's combination of them.

NUN (He et al., arXiv 2511.18164, Sec. 4.3, "BUI") scores every DeRUN
iterate with ``S(X) = TOPIQ + Q-Align + MUSIQ`` and passes the best on. The
three metrics live in pyiqa (Chen et al., IQA-PyTorch). pyiqa is an optional
extra (``pip install -r requirements/iqa.txt``: ~1.4 GB, pulls transformers
5.x): it is imported only when an IQA selector is built, and dunseg never lets
it download: weights come from local files (pyiqa's
``pretrained_model_path``), and Q-Align from the local Hugging Face cache.

The three scores live on different scales (TOPIQ about [0, 1], MUSIQ
[0, 100], Q-Align [1, 5]); NUN does not publish how it normalises them.
:class:`CombinedIQASelector` normalises each metric *per sample across its S
candidates* before summing, ``'minmax'`` by default: every metric then maps
its worst candidate to 0 and its best to 1, so each has the same say in the
ranking whatever its scale or offset. ``'zscore'`` (mean 0, std 1 across the
candidates) and ``'rank'`` are the alternatives; the choice is a
constructor argument.
"""
import copy
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import torch
from torch import nn

from dunseg.registry import MODELS

from .base import BaseSelector

PYIQA_INSTALL_HINT = (
    'pip install -r requirements/iqa.txt (pyiqa==0.1.16; +1.4 GB, it pulls '
    'transformers 5.x, so a separate virtualenv may be safer), or use the '
    "offline LearnedQualitySelector (type='LearnedQualitySelector')")

#: What each pyiqa metric needs and where its weights come from (the file
#: pyiqa would download; dunseg never does).
PYIQA_WEIGHT_HINTS = {
    'topiq_nr': 'cfanet_nr_koniq_res50-*.pth from the IQA-PyTorch releases '
    '(github.com/chaofengc/IQA-PyTorch/releases, v0.1-weights)',
    'musiq': 'musiq_koniq_ckpt-*.pth from the IQA-PyTorch releases '
    '(github.com/chaofengc/IQA-PyTorch/releases, v0.1-weights)',
}


def import_pyiqa(who: str):
    """``import pyiqa`` or an ImportError that says how to install it."""
    try:
        import pyiqa
    except ImportError as err:
        raise ImportError(
            f'{who} needs the optional package pyiqa, which is not '
            f'installed: {PYIQA_INSTALL_HINT}') from err
    return pyiqa


@MODELS.register_module()
class PyIQASelector(BaseSelector):
    """Any pyiqa no-reference metric as a selector (higher = better; metrics
    that are lower-better are negated).

    Args:
        metric (str): pyiqa metric name (``'topiq_nr'``, ``'musiq'``, ...).
        pretrained_model_path (str, optional): local weight file, passed to
            ``pyiqa.create_metric(pretrained_model_path=...)``. Required
            unless ``allow_random_init`` (nothing is downloaded).
        allow_random_init (bool): build the architecture with random
            weights (``pretrained=False``) when no path is given; for tests
            and timing only: an untrained metric ranks nothing.
        metric_kwargs (dict, optional): more ``create_metric`` arguments.
        chunk (int): candidates per metric call.
        device (str): device of the metric.
    """

    display_name = 'pyiqa'

    def __init__(self,
                 metric: str,
                 pretrained_model_path: Optional[str] = None,
                 allow_random_init: bool = False,
                 metric_kwargs: Optional[dict] = None,
                 chunk: int = 8,
                 device: str = 'cpu') -> None:
        super().__init__()
        self.metric_name = metric
        who = f'{type(self).__name__}({metric!r})'
        hint = PYIQA_WEIGHT_HINTS.get(metric, 'the checkpoint pyiqa lists '
                                      'for this metric')
        kwargs = dict(metric_kwargs or {})
        if pretrained_model_path is not None:
            path = osp.expanduser(str(pretrained_model_path))
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{who}: weight file {path!r} does not exist. Put {hint} '
                    'there (dunseg never downloads weights), or point '
                    'pretrained_model_path at your copy.')
            kwargs['pretrained_model_path'] = path
        elif allow_random_init:
            kwargs['pretrained'] = False
        else:
            raise ValueError(
                f'{who}: no pretrained_model_path. Download {hint} and pass '
                'its local path (dunseg never downloads weights); '
                'allow_random_init=True builds an untrained metric for tests '
                'only.')
        pyiqa = import_pyiqa(who)
        self.metric = pyiqa.create_metric(
            metric, as_loss=False, device=torch.device(device), **kwargs)
        self.lower_better = bool(getattr(self.metric, 'lower_better', False))
        self.chunk = int(chunk)
        self.device = torch.device(device)

    def score(self, candidates: torch.Tensor,
              reference: Optional[torch.Tensor] = None) -> torch.Tensor:
        batch, steps = candidates.shape[:2]
        flat = candidates.flatten(0, 1).float().clamp(0, 1)
        values = []
        for start in range(0, len(flat), self.chunk):
            chunk = flat[start:start + self.chunk].to(self.device)
            values.append(self.metric(chunk).reshape(-1).float().cpu())
        scores = torch.cat(values).view(batch, steps).to(candidates.device)
        return -scores if self.lower_better else scores


@MODELS.register_module()
class TOPIQSelector(PyIQASelector):
    """TOPIQ-NR (Chen et al., TIP 2024; pyiqa ``'topiq_nr'``, KonIQ
    weights)."""

    def __init__(self, pretrained_model_path: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__('topiq_nr', pretrained_model_path, **kwargs)


@MODELS.register_module()
class MUSIQSelector(PyIQASelector):
    """MUSIQ (Ke et al., ICCV 2021; pyiqa ``'musiq'``, KonIQ weights)."""

    def __init__(self, pretrained_model_path: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__('musiq', pretrained_model_path, **kwargs)


@MODELS.register_module()
class QAlignSelector(BaseSelector):
    """Q-Align (Wu et al., ICML 2024; pyiqa ``'qalign'``).

    pyiqa's Q-Align loads ``q-future/one-align`` (mPLUG-Owl2, ~16 GB) with
    ``transformers.from_pretrained`` by repository id, so its weights come
    from the local Hugging Face cache rather than a
    ``pretrained_model_path``. The selector checks that the snapshot is in
    the cache first and runs with the hub offline.

    Args:
        repo_id (str): the Hugging Face repository pyiqa loads.
        metric_kwargs (dict, optional): more ``create_metric`` arguments
            (e.g. ``dtype='4bit'``).
        device (str): device of the metric (Q-Align scores one image per
            call).
    """

    def __init__(self,
                 repo_id: str = 'q-future/one-align',
                 metric_kwargs: Optional[dict] = None,
                 device: str = 'cpu') -> None:
        super().__init__()
        who = 'QAlignSelector'
        import os
        os.environ.setdefault('HF_HUB_OFFLINE', '1')
        try:
            from huggingface_hub import try_to_load_from_cache
            cached = try_to_load_from_cache(repo_id, 'config.json')
        except ImportError:
            cached = None
        if not isinstance(cached, str):
            raise FileNotFoundError(
                f'{who}: the Q-Align weights ({repo_id}) are not in the local '
                'Hugging Face cache. On a connected machine run '
                f'`huggingface-cli download {repo_id}` and copy the cache '
                '(HF_HOME, default ~/.cache/huggingface) here; dunseg never '
                'downloads weights.')
        pyiqa = import_pyiqa(who)
        self.metric = pyiqa.create_metric(
            'qalign', as_loss=False, device=torch.device(device),
            **dict(metric_kwargs or {}))
        self.device = torch.device(device)

    def score(self, candidates: torch.Tensor,
              reference: Optional[torch.Tensor] = None) -> torch.Tensor:
        batch, steps = candidates.shape[:2]
        flat = candidates.flatten(0, 1).float().clamp(0, 1)
        values = [
            self.metric(image[None].to(self.device)).reshape(-1).float().cpu()
            for image in flat
        ]
        return torch.cat(values).view(batch, steps).to(candidates.device)


def normalise_scores(scores: torch.Tensor, mode: str) -> torch.Tensor:
    """Per-sample normalisation of (B, S) scores across the S candidates.

    ``'minmax'``: (s − min) / (max − min), 0 where all are equal;
    ``'zscore'``: (s − mean) / std, 0 where all are equal; ``'rank'``:
    ranks 0..S−1 scaled to [0, 1] (ties share the mean rank);
    ``'none'``: unchanged.
    """
    if mode == 'none':
        return scores
    if mode == 'minmax':
        low = scores.min(dim=1, keepdim=True).values
        span = scores.max(dim=1, keepdim=True).values - low
        return torch.where(span > 0, (scores - low) / span.clamp_min(1e-12),
                           torch.zeros_like(scores))
    if mode == 'zscore':
        std = scores.std(dim=1, keepdim=True, unbiased=False)
        centred = scores - scores.mean(dim=1, keepdim=True)
        return torch.where(std > 0, centred / std.clamp_min(1e-12),
                           torch.zeros_like(scores))
    if mode == 'rank':
        steps = scores.shape[1]
        below = (scores[:, :, None] > scores[:, None, :]).sum(-1).float()
        equal = (scores[:, :, None] == scores[:, None, :]).sum(-1).float()
        ranks = below + (equal - 1) / 2
        return ranks / max(steps - 1, 1)
    raise ValueError(f"normalise mode must be 'minmax', 'zscore', 'rank' or "
                     f"'none', got {mode!r}")


@MODELS.register_module()
class CombinedIQASelector(BaseSelector):
    """Weighted sum of several selectors' per-sample normalised scores.

    ``S(X_s) = Σ_m w_m · norm_m(score_m(X))_s`` (NUN: TOPIQ + Q-Align +
    MUSIQ, unit weights; see the module docstring for the normalisation).

    Args:
        selectors (sequence of dict | BaseSelector): the scorers, configs
            (built from MODELS) or modules.
        normalize (str): ``'minmax'`` (default), ``'zscore'``, ``'rank'`` or
            ``'none'``.
        weights (sequence of float, optional): ``w_m``; ones by default.
    """

    def __init__(self,
                 selectors: Sequence[Union[dict, nn.Module]],
                 normalize: str = 'minmax',
                 weights: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        if not selectors:
            raise ValueError('CombinedIQASelector needs at least one selector')
        normalise_scores(torch.zeros(1, 2), normalize)  # validate early
        built = [
            MODELS.build(copy.deepcopy(s)) if isinstance(s, dict) else s
            for s in selectors
        ]
        self.selectors = nn.ModuleList(built)
        # the degraded input reaches the parts that read it
        self.needs_observation = any(
            getattr(s, 'needs_observation', False) for s in built)
        self.normalize = normalize
        weights = [1.0] * len(built) if weights is None else list(weights)
        if len(weights) != len(built):
            raise ValueError(f'{len(weights)} weights for {len(built)} '
                             'selectors')
        self.register_buffer('weights', torch.tensor(weights,
                                                     dtype=torch.float32),
                             persistent=False)

    def component_scores(self, candidates: torch.Tensor,
                         reference: Optional[torch.Tensor] = None,
                         observation: Optional[torch.Tensor] = None
                         ) -> Dict[str, torch.Tensor]:
        """Raw (B, S) scores of every component, by class name + index."""

        def raw(selector):
            if getattr(selector, 'needs_observation', False):
                return selector.score(candidates, reference, observation)
            return selector.score(candidates, reference)

        return {
            f'{type(s).__name__}.{i}': raw(s).float()
            for i, s in enumerate(self.selectors)
        }

    def score(self, candidates: torch.Tensor,
              reference: Optional[torch.Tensor] = None,
              observation: Optional[torch.Tensor] = None) -> torch.Tensor:
        total = torch.zeros(candidates.shape[:2], device=candidates.device)
        for weight, raw in zip(self.weights,
                               self.component_scores(
                                   candidates, reference,
                                   observation).values()):
            total = total + weight.to(total.device) * normalise_scores(
                raw.to(total.device), self.normalize)
        return total


@MODELS.register_module()
class NUNIQASelector(CombinedIQASelector):
    """NUN's selector: TOPIQ-NR + Q-Align + MUSIQ, each normalised per
    sample, summed.

    Args:
        topiq_weights (str): local TOPIQ-NR weight file.
        musiq_weights (str): local MUSIQ weight file.
        with_qalign (bool): include Q-Align (from the Hugging Face cache;
            ~16 GB). False gives TOPIQ + MUSIQ.
        normalize (str): see :func:`normalise_scores`.
        device (str): device of the metrics.
    """

    def __init__(self,
                 topiq_weights: Optional[str] = None,
                 musiq_weights: Optional[str] = None,
                 with_qalign: bool = True,
                 normalize: str = 'minmax',
                 device: str = 'cpu') -> None:
        selectors = [
            dict(type='TOPIQSelector', pretrained_model_path=topiq_weights,
                 device=device),
            dict(type='MUSIQSelector', pretrained_model_path=musiq_weights,
                 device=device),
        ]
        if with_qalign:
            selectors.append(dict(type='QAlignSelector', device=device))
        super().__init__(selectors, normalize=normalize)


__all__ = [
    'PyIQASelector', 'TOPIQSelector', 'MUSIQSelector', 'QAlignSelector',
    'CombinedIQASelector', 'NUNIQASelector', 'normalise_scores',
    'import_pyiqa', 'PYIQA_INSTALL_HINT'
]
