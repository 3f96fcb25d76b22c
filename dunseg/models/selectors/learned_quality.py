"""An offline no-reference quality selector that ships with its weights.

NUN scores DeRUN iterates with TOPIQ + Q-Align + MUSIQ (pyiqa), whose
weights must be downloaded. :class:`LearnedQualitySelector` works out of the
box. In the spirit of NIQE / BRISQUE (natural-scene statistics, then a
fitted model), it measures 33 statistics of an image that the embedded
degradations disturb (:func:`image_quality_features`) and regresses the
image's full-reference PSNR against its unknown clean version from them
with an ensemble of five small MLPs (:class:`QualityFeatureNet`).

The MLPs and the feature standardisation were fitted by
``tools/experiments/train_quality_selector.py`` on the embedded data
(``SyntheticDegradationDataset``, *train* split: noise σ 15/25/50, haze,
rain, blur, low light, JPEG; and ``SyntheticCODDataset``'s low light, haze,
low resolution and combined degradations, NUN's settings) at random
restoration levels (blends
``t·clean + (1 − t)·degraded`` and mild denoising filters, see
:mod:`.quality_data`), with an L1 loss on the PSNR plus a pairwise ranking
loss among restorations of the same image; the script writes
``weights/quality_feature_net.pth`` inside this package (~150 kB).

A CNN regressor (37 k parameters, trained on 32 px crops) was tried first
and reached a pooled Spearman of only 0.67 after 800 steps on this CPU; the
hand-made statistics make the ranking easy to learn (figures in
``docs/priors_and_selectors.md``, measured by
``tools/experiments/selector_ranking.py``). The model knows only the
embedded degradations; for other data retrain it with the script or use the
pyiqa selectors.

:class:`InputAwareQualitySelector` is its reduced-reference sibling (a
departure from NUN): the same regression from the candidate's statistics,
the degraded input's and how far the candidate moved from it
(:func:`pair_quality_features`), so it can keep a mildly degraded input
that a trained DUN would only shift in colour.
"""
import math
import os.path as osp
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS

from .base import BaseSelector

DEFAULT_QUALITY_WEIGHTS = osp.join(
    osp.dirname(osp.abspath(__file__)), 'weights', 'quality_feature_net.pth')
#: The MLP regresses ``(PSNR − PSNR_CENTRE) / PSNR_SCALE``.
PSNR_CENTRE, PSNR_SCALE = 25.0, 10.0
NUM_QUALITY_FEATURES = 33

# Immerkaer's noise estimator (CVIU 1996) filters with a Laplacian
# difference that cancels locally linear image structure: _noise_sigma.


def _noise_sigma(x: torch.Tensor) -> torch.Tensor:
    """Immerkaer's noise sigma per image and channel, (N, C).

    The 3×3 kernel [[1, −2, 1], [−2, 4, −2], [1, −2, 1]] is the outer
    product of [1, −2, 1] with itself: two 1-D second differences, cheaper
    on CPU than a single-channel convolution."""
    rows = x[..., :-2, :] - 2 * x[..., 1:-1, :] + x[..., 2:, :]
    laplace = (rows[..., :-2] - 2 * rows[..., 1:-1] + rows[..., 2:]).abs()
    return laplace.mean((2, 3)) * math.sqrt(math.pi / 2) / 6


def _max_filter7(x: torch.Tensor) -> torch.Tensor:
    """7×7 max filter (stride 1, same size) as two 1-D passes: max is
    separable, and 14 comparisons beat 49."""
    x = F.max_pool2d(x, (1, 7), 1, (0, 3))
    return F.max_pool2d(x, (7, 1), 1, (3, 0))


def _block_border_columns(width: int, device) -> tuple:
    """Indices of the differences across 8 x 8 block borders (column
    ``i`` with ``i % 8 == 7``) and of the others, built arithmetically: a
    boolean mask would make the host wait for the device to count it."""
    on_border = torch.arange(width // 8, device=device) * 8 + 7
    k = torch.arange(width - width // 8, device=device)
    return on_border, k // 7 * 8 + k % 7


def image_quality_features(images: torch.Tensor) -> torch.Tensor:
    """33 quality statistics of (N, 3, H, W) images in [0, 1] (H, W >= 16).

    - colour mean and std per channel (6): low light, haze's lifted blacks;
    - Immerkaer noise sigma per channel, the log of its mean, and the log
      at half resolution (5): noise (halves at half resolution) vs blur;
    - at 3 dyadic scales, mean |∂x| and |∂y|, their log ratio (vertical rain
      streaks make it lopsided) and the gradient kurtosis proxy
      E|∂x|² / (E|∂x|)² (4 × 3 = 12): blur, noise, rain;
    - mean dark channel and bright channel (7×7) and saturation (3): haze
      (He et al.'s dark-channel prior), low light;
    - mean local contrast, std in 7×7 windows (1);
    - log ratio of differences across 8-px block borders to those inside
      blocks, horizontally and vertically (2): JPEG blocking;
    - colourfulness (Hasler and Suesstrunk) (1): haze, low light;
    - 1 %, 50 % and 99 % intensity quantiles (3).
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError('image_quality_features expects (N, 3, H, W) images '
                         f'in [0, 1], got {tuple(images.shape)}')
    x = images.float().clamp(0, 1)
    grey = x.mean(1, keepdim=True)
    feats = [x.mean((2, 3)), x.std((2, 3))]
    noise = _noise_sigma(x)
    # the same at half resolution: noise halves there, blur hardly moves
    noise_half = _noise_sigma(F.avg_pool2d(x, 2)).mean(1)
    feats += [noise, torch.log(noise.mean(1, keepdim=True) + 1e-4),
              torch.log(noise_half + 1e-4)[:, None]]
    level = grey
    for _ in range(3):
        dx = (level[..., :, 1:] - level[..., :, :-1]).abs()
        dy = (level[..., 1:, :] - level[..., :-1, :]).abs()
        mx, my = dx.mean((1, 2, 3)), dy.mean((1, 2, 3))
        feats.append(torch.stack([
            mx, my,
            torch.log(mx + 1e-4) - torch.log(my + 1e-4),
            dx.pow(2).mean((1, 2, 3)) / (mx**2 + 1e-8)
        ], 1))
        level = F.avg_pool2d(level, 2)
    dark = -_max_filter7(-x.min(1, keepdim=True).values)
    bright = _max_filter7(x.max(1, keepdim=True).values)
    saturation = (x.max(1).values - x.min(1).values).mean((1, 2))
    feats.append(torch.stack([dark.mean((1, 2, 3)), bright.mean((1, 2, 3)),
                              saturation], 1))
    mean = F.avg_pool2d(grey, 7, 1, 3)
    var = F.avg_pool2d(grey**2, 7, 1, 3) - mean**2
    feats.append(var.clamp_min(0).sqrt().mean((1, 2, 3))[:, None])
    for diffs in ((grey[..., :, 1:] - grey[..., :, :-1]).abs(),
                  (grey[..., 1:, :] - grey[..., :-1, :]).abs().transpose(
                      -1, -2)):
        on_border, off_border = _block_border_columns(diffs.shape[-1],
                                                      x.device)
        on = diffs[..., on_border].mean((1, 2, 3))
        off = diffs[..., off_border].mean((1, 2, 3))
        feats.append(torch.log((on + 1e-4) / (off + 1e-4))[:, None])
    # colourfulness (Hasler and Suesstrunk 2003): haze and low light fade it
    rg = x[:, 0] - x[:, 1]
    yb = (x[:, 0] + x[:, 1]) / 2 - x[:, 2]
    feats.append((torch.sqrt(rg.var((1, 2)) + yb.var((1, 2))) +
                  0.3 * torch.sqrt(rg.mean((1, 2))**2 +
                                   yb.mean((1, 2))**2))[:, None])
    quantiles = torch.tensor([0.01, 0.5, 0.99]).to(x.device,
                                                  non_blocking=True)
    feats.append(torch.quantile(grey.flatten(1), quantiles, dim=1).T)
    return torch.cat(feats, 1)


#: Statistics of a candidate with its degraded input: both images' 33
#: and 9 comparisons (:func:`pair_quality_features`).
NUM_PAIR_FEATURES = 2 * NUM_QUALITY_FEATURES + 9


def pair_quality_features(candidates: torch.Tensor,
                          observation: torch.Tensor,
                          observation_features: Optional[torch.Tensor] = None
                          ) -> torch.Tensor:
    """Statistics of (N, 3, H, W) candidates beside their degraded input
    ``observation`` (N, 3, H, W): the candidate's 33, the input's 33 and
    how far the candidate moved from the input:

    - per-channel mean difference and log std ratio (6): the global colour
      and contrast correction applied;
    - PSNR between candidate and input at full resolution and after 4×
      average pooling (2): how much changed, and how much of it is
      low-frequency;
    - log ratio of mean gradient magnitudes (1): sharpened or smoothed.

    A no-reference score cannot tell a scene that needed a colour
    correction from one that did not; the input's own statistics (dark,
    hazy, soft) say which correction it needed, so a candidate that moved
    a mildly degraded input far can be scored down.
    ``observation_features`` (N, 33) may be passed when computed once.
    """
    if candidates.shape != observation.shape:
        raise ValueError('pair_quality_features: candidates '
                         f'{tuple(candidates.shape)} and observation '
                         f'{tuple(observation.shape)} differ in shape')
    x = candidates.float().clamp(0, 1)
    y = observation.float().clamp(0, 1)
    if observation_features is None:
        observation_features = image_quality_features(y)
    mean_shift = x.mean((2, 3)) - y.mean((2, 3))
    std_ratio = torch.log((x.std((2, 3)) + 1e-3) / (y.std((2, 3)) + 1e-3))

    def closeness(a, b):
        mse = (a - b).pow(2).mean((1, 2, 3))
        return -10 * torch.log10(mse + 1e-6)

    def gradient(a):
        grey = a.mean(1)
        return ((grey[:, :, 1:] - grey[:, :, :-1]).abs().mean((1, 2)) +
                (grey[:, 1:] - grey[:, :-1]).abs().mean((1, 2)))

    compare = torch.cat([
        mean_shift, std_ratio,
        torch.stack([
            closeness(x, y),
            closeness(F.avg_pool2d(x, 4), F.avg_pool2d(y, 4)),
            torch.log((gradient(x) + 1e-4) / (gradient(y) + 1e-4))
        ], 1)
    ], 1)
    return torch.cat([image_quality_features(x), observation_features,
                      compare], 1)


class QualityFeatureNet(nn.Module):
    """Standardised :func:`image_quality_features` -> MLPs -> PSNR (dB).

    An ensemble of ``members`` small MLPs (trained from different seeds on
    the same data), averaged: it lowers the variance of the prediction
    between images, which is what a pooled ranking suffers from. The
    standardisation (``feature_mean``, ``feature_std``) is fitted with the
    MLPs and stored in the state dict.

    Args:
        hidden (int): MLP width.
        members (int): ensemble size.
        in_features (int): statistics per candidate (33 for one image,
            :data:`NUM_PAIR_FEATURES` for a candidate with its degraded
            input).
    """

    def __init__(self, hidden: int = 64, members: int = 5,
                 in_features: int = NUM_QUALITY_FEATURES) -> None:
        super().__init__()
        self.hidden = int(hidden)
        self.in_features = int(in_features)
        self.register_buffer('feature_mean', torch.zeros(self.in_features))
        self.register_buffer('feature_std', torch.ones(self.in_features))
        self.mlps = nn.ModuleList(
            nn.Sequential(
                nn.Linear(self.in_features, hidden), nn.GELU(),
                nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))
            for _ in range(int(members)))

    def forward_member(self, feats: torch.Tensor, index: int) -> torch.Tensor:
        normed = (feats - self.feature_mean) / self.feature_std
        return self.mlps[index](normed)[:, 0] * PSNR_SCALE + PSNR_CENTRE

    def forward_features(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.stack([
            self.forward_member(feats, i) for i in range(len(self.mlps))
        ]).mean(0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted PSNR (N,) of (N, 3, H, W) images in [0, 1]."""
        return self.forward_features(image_quality_features(images))


@MODELS.register_module()
class LearnedQualitySelector(BaseSelector):
    """Chooses the candidate with the highest predicted PSNR (no reference).

    Args:
        weights (str): local weight file of a :class:`QualityFeatureNet`;
            defaults to the file shipped in the package.
        hidden (int): the MLP width (must match the weights).
        members (int): the ensemble size (must match the weights).
        chunk (int): candidates scored per call (memory bound).
    """

    def __init__(self,
                 weights: Optional[str] = DEFAULT_QUALITY_WEIGHTS,
                 hidden: int = 64,
                 members: int = 5,
                 chunk: int = 64) -> None:
        super().__init__()
        self.net = load_quality_net(weights, hidden, members,
                                    NUM_QUALITY_FEATURES, type(self).__name__)
        self.weights = weights
        self.chunk = int(chunk)

    def score(self, candidates: torch.Tensor,
              reference: Optional[torch.Tensor] = None) -> torch.Tensor:
        batch, steps = candidates.shape[:2]
        flat = candidates.flatten(0, 1)
        if flat.shape[1] == 1:
            flat = flat.expand(-1, 3, -1, -1)
        scores = torch.cat([
            self.net(flat[i:i + self.chunk])
            for i in range(0, len(flat), self.chunk)
        ])
        return scores.view(batch, steps)


def load_quality_net(weights: Optional[str], hidden: int, members: int,
                     in_features: int, who: str) -> QualityFeatureNet:
    """A frozen :class:`QualityFeatureNet` from a local weight file, with
    errors that name the file and the fix."""
    if weights is None or not osp.isfile(osp.expanduser(str(weights))):
        raise FileNotFoundError(
            f'{who}: weight file {weights!r} does not exist (an untrained '
            'scorer ranks nothing). Create it with python '
            'tools/experiments/train_quality_selector.py'
            + (' --with-observation' if in_features == NUM_PAIR_FEATURES
               else ' (the default ships in dunseg/models/selectors/'
               'weights/)'))
    net = QualityFeatureNet(hidden, members, in_features)
    from dunseg.engine.checkpoint import load_weights_only
    ckpt = load_weights_only(osp.expanduser(weights), map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(
            f'{weights}: not a QualityFeatureNet(hidden={hidden}, '
            f'members={members}, in_features={in_features}) state dict '
            f'({" ".join(str(err).split())[:300]}); check hidden/members, '
            f'and that the file was written for {who}') from err
    net.eval()
    for param in net.parameters():
        param.requires_grad_(False)
    return net


DEFAULT_INPUT_AWARE_WEIGHTS = osp.join(
    osp.dirname(osp.abspath(__file__)), 'weights',
    'input_aware_quality_net.pth')


@MODELS.register_module()
class InputAwareQualitySelector(BaseSelector):
    """Scores each candidate from its own statistics *and* the degraded
    input it was restored from (:func:`pair_quality_features`), so it can
    prefer the input, or a candidate close to it, when the input was only
    mildly degraded. A departure from NUN, whose IQA selectors see the
    candidate alone; it pairs with ``NUN(select_stage_input=True)``,
    which makes the stage's input a candidate.

    Why: a no-reference score rates a trained DeRUN's colour-shifted
    restorations of a low-resolution scene above the soft input
    (``configs/nun/README.md``); the oracle keeps the input there.

    Args:
        weights (str): local weight file written by
            ``tools/experiments/train_quality_selector.py
            --with-observation``.
        hidden (int), members (int): must match the weights.
        chunk (int): candidates scored per call (memory bound).
    """
    needs_observation = True

    def __init__(self,
                 weights: Optional[str] = DEFAULT_INPUT_AWARE_WEIGHTS,
                 hidden: int = 64,
                 members: int = 5,
                 chunk: int = 64) -> None:
        super().__init__()
        self.net = load_quality_net(weights, hidden, members,
                                    NUM_PAIR_FEATURES, type(self).__name__)
        self.weights = weights
        self.chunk = int(chunk)

    def score(self, candidates: torch.Tensor,
              reference: Optional[torch.Tensor] = None,
              observation: Optional[torch.Tensor] = None) -> torch.Tensor:
        batch, steps = candidates.shape[:2]
        if observation is None or observation.shape != (
                batch, *candidates.shape[2:]):
            raise ValueError(
                f'{type(self).__name__}: needs the degraded input of each '
                f'sample, shape {(batch, *candidates.shape[2:])}, got '
                f'{None if observation is None else tuple(observation.shape)}')
        if candidates.shape[2] == 1:
            candidates = candidates.expand(-1, -1, 3, -1, -1)
            observation = observation.expand(-1, 3, -1, -1)
        observed = image_quality_features(observation)
        flat = candidates.flatten(0, 1)
        flat_obs = observation[:, None].expand_as(candidates).flatten(0, 1)
        flat_feats = observed[:, None].expand(-1, steps, -1).flatten(0, 1)
        scores = torch.cat([
            self.net.forward_features(
                pair_quality_features(flat[i:i + self.chunk],
                                      flat_obs[i:i + self.chunk],
                                      flat_feats[i:i + self.chunk]))
            for i in range(0, len(flat), self.chunk)
        ])
        return scores.view(batch, steps)


__all__ = [
    'QualityFeatureNet', 'LearnedQualitySelector', 'DEFAULT_QUALITY_WEIGHTS',
    'image_quality_features', 'NUM_QUALITY_FEATURES',
    'InputAwareQualitySelector', 'DEFAULT_INPUT_AWARE_WEIGHTS',
    'pair_quality_features', 'NUM_PAIR_FEATURES', 'load_quality_net'
]
