"""Candidate restorations at known quality, for fitting and checking
selectors on the embedded data.

A DUN's iterates run from the degraded input towards the clean image, with
smoothing along the way. Without a trained restorer this is simulated from a
(clean, degraded) pair of :class:`~dunseg.datasets.SyntheticDegradationDataset`
by two families:

- blends ``x_t = t·clean + (1 − t)·degraded`` for restoration levels ``t``
  (``t = 0`` is the input; every residual shrinks by ``1 − t``);
- mild denoising filters on the degraded image or on a blend (Gaussian
  σ 0.5–1.5, 3×3 median), the over-smoothed iterates of a real restorer.

Their full-reference PSNR against the clean image is the quality a selector
should rank by.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

#: Every degradation the embedded synthesizer makes, three noise levels
#: included; these are the degradation levels of the selector checks.
QUALITY_DEGRADATIONS = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                        'derain', 'deblur', 'delowlight', 'jpeg')
#: PSNR (dB) given to a candidate identical to the clean image (infinite
#: otherwise) in the ranking checks.
PSNR_CAP = 45.0


def psnr(images: torch.Tensor, reference: torch.Tensor,
         max_db: float = PSNR_CAP) -> torch.Tensor:
    """Per-image PSNR (dB) of (..., C, H, W) images in [0, 1] against
    ``reference`` (broadcast), capped at ``max_db`` (identical images)."""
    mse = (images.float() - reference.float()).pow(2).flatten(-3).mean(-1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-12))).clamp(max=max_db)


def gaussian_filter(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) images, reflect padding."""
    radius = max(1, int(round(3 * sigma)))
    coords = torch.arange(-radius, radius + 1, dtype=images.dtype,
                          device=images.device)
    kernel = torch.exp(-coords**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    x = F.pad(images, (radius, radius, radius, radius), mode='reflect')
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1),
                 groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1),
                    groups=channels)


def median_filter3(images: torch.Tensor) -> torch.Tensor:
    """3×3 median filter of (N, C, H, W) images, reflect padding."""
    x = F.pad(images, (1, 1, 1, 1), mode='reflect')
    patches = x.unfold(2, 3, 1).unfold(3, 3, 1)
    return patches.reshape(*patches.shape[:4], 9).median(dim=-1).values


#: The fixed candidate ladder of the checks: (name, blend level t, filter).
CANDIDATE_LADDER: Tuple[Tuple[str, float, Optional[str]], ...] = (
    ('input', 0.0, None),
    ('gauss1.0', 0.0, 'gauss1.0'),
    ('median3', 0.0, 'median3'),
    ('t0.25', 0.25, None),
    ('t0.5', 0.5, None),
    ('t0.5+gauss0.7', 0.5, 'gauss0.7'),
    ('t0.75', 0.75, None),
    ('t0.9', 0.9, None),
)


def apply_filter(images: torch.Tensor, name: Optional[str]) -> torch.Tensor:
    if name is None:
        return images
    if name == 'median3':
        return median_filter3(images)
    if name.startswith('gauss'):
        return gaussian_filter(images, float(name[len('gauss'):]))
    raise ValueError(f'unknown filter {name!r}; use None, "median3" or '
                     '"gauss<sigma>"')


def candidate_ladder(clean: torch.Tensor, degraded: torch.Tensor,
                     ladder=CANDIDATE_LADDER) -> torch.Tensor:
    """(N, S, C, H, W) candidates of (N, C, H, W) pairs, one per rung."""
    rungs = []
    for _, level, filt in ladder:
        blend = level * clean + (1.0 - level) * degraded
        rungs.append(apply_filter(blend, filt).clamp(0, 1))
    return torch.stack(rungs, dim=1)


def random_restorations(clean: torch.Tensor, degraded: torch.Tensor,
                        generator: torch.Generator,
                        tone_shift_prob: float = 0.0) -> torch.Tensor:
    """One random restoration level per pair (training data): a blend with
    ``t ~ U(0, 0.95)`` (5 % exactly clean), then with probability 0.35 a
    Gaussian (σ ~ U(0.5, 1.5)) or 3×3 median filter, then with probability
    ``tone_shift_prob`` a global tone error (:func:`tone_shift`), the way a
    trained DUN's iterates miss (``configs/nun/README.md``: DeRUN-tiny's
    error is mostly colour and contrast). With ``tone_shift_prob = 0`` the
    generator is drawn exactly as before the option existed."""
    count = len(clean)
    level = torch.rand(count, generator=generator) * 0.95
    level[torch.rand(count, generator=generator) < 0.05] = 1.0
    level = level.view(-1, 1, 1, 1).to(clean)
    out = level * clean + (1 - level) * degraded
    draw = torch.rand(count, generator=generator)
    for index in range(count):
        if draw[index] < 0.25:
            sigma = 0.5 + float(torch.rand(1, generator=generator))
            out[index:index + 1] = gaussian_filter(out[index:index + 1],
                                                   sigma)
        elif draw[index] < 0.35:
            out[index:index + 1] = median_filter3(out[index:index + 1])
    if tone_shift_prob > 0:
        shifted = torch.rand(count, generator=generator) < tone_shift_prob
        toned = tone_shift(out, generator)
        out = torch.where(shifted.view(-1, 1, 1, 1).to(out.device), toned,
                          out)
    return out.clamp(0, 1)


def tone_shift(images: torch.Tensor, generator: torch.Generator,
               max_offset: float = 0.1, max_log_gain: float = 0.2,
               contrast_range: Tuple[float, float] = (0.75, 1.15)
               ) -> torch.Tensor:
    """A random global tone error per image of (N, C, H, W) images in
    [0, 1]: contrast about the image's mean (``U(contrast_range)``), then a
    per-channel gain ``exp(U(±max_log_gain))`` and offset
    ``U(±max_offset)``. Structure is kept; only colour and contrast move."""
    count, channels = images.shape[:2]

    def uniform(low, high, *shape):
        return low + (high - low) * torch.rand(*shape, generator=generator)

    contrast = uniform(*contrast_range, count, 1, 1, 1).to(images)
    gain = uniform(-max_log_gain, max_log_gain, count, channels, 1,
                   1).exp().to(images)
    offset = uniform(-max_offset, max_offset, count, channels, 1,
                     1).to(images)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (((images - mean) * contrast + mean) * gain + offset).clamp(0, 1)


def synthetic_pairs(num_samples: int,
                    split: str = 'test',
                    seed: int = 0,
                    img_size: int = 64,
                    degradations: Sequence[str] = QUALITY_DEGRADATIONS
                    ) -> Dict[str, object]:
    """(clean, degraded) tensors (N, 3, H, W) and degradation names from
    ``SyntheticDegradationDataset`` (disjoint photo regions per split;
    the 11 px blur of the embedded restoration configs)."""
    from dunseg.datasets import SyntheticDegradationDataset
    dataset = SyntheticDegradationDataset(
        num_samples=num_samples, img_size=img_size,
        degradations=tuple(degradations), seed=seed, split=split,
        degradation_params=dict(deblur=dict(size=11)))
    clean, degraded, names = [], [], []
    for index in range(num_samples):
        sample = dataset.generate(index)
        clean.append(torch.from_numpy(sample['gt_img']).permute(2, 0, 1))
        degraded.append(torch.from_numpy(sample['img']).permute(2, 0, 1))
        names.append(sample['degradation'])
    return dict(clean=torch.stack(clean), degraded=torch.stack(degraded),
                degradations=names)


#: SyntheticCOD's degradations (NUN's settings) and levels.
COD_DEGRADATIONS = ('lowlight', 'haze', 'lowres', 'combined')
COD_LEVELS = ('light', 'medium', 'heavy')


def synthetic_cod_pairs(num_samples: int,
                        split: str = 'test',
                        seed: int = 0,
                        img_size: int = 64,
                        kinds: Sequence[str] = COD_DEGRADATIONS,
                        levels: Sequence[str] = COD_LEVELS
                        ) -> Dict[str, object]:
    """(clean, degraded) tensors and degradation names from
    ``SyntheticCODDataset`` (NUN's low light, haze, low resolution and
    their combination, each level drawn per sample), ``num_samples`` per
    kind."""
    from dunseg.datasets import SyntheticCODDataset
    clean, degraded, names = [], [], []
    for kind in kinds:
        dataset = SyntheticCODDataset(
            num_samples=num_samples, img_size=img_size, seed=seed,
            split=split, degradation=dict(kind=kind, level=tuple(levels)))
        for index in range(num_samples):
            sample = dataset.generate(index)
            clean.append(torch.from_numpy(np.ascontiguousarray(
                sample['gt_img'], np.float32)).permute(2, 0, 1))
            degraded.append(torch.from_numpy(np.ascontiguousarray(
                sample['img'], np.float32)).permute(2, 0, 1))
            names.append(kind)
    return dict(clean=torch.stack(clean), degraded=torch.stack(degraded),
                degradations=names)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import rankdata
    rx = rankdata(np.asarray(x, dtype=np.float64))
    ry = rankdata(np.asarray(y, dtype=np.float64))
    if rx.std() == 0 or ry.std() == 0:
        return float('nan')
    return float(np.corrcoef(rx, ry)[0, 1])


def ranking_report(scores: torch.Tensor, quality: torch.Tensor,
                   input_psnr: Optional[torch.Tensor] = None
                   ) -> Dict[str, float]:
    """How well (N, S) ``scores`` rank (N, S) full-reference ``quality``.

    Returns ``spearman_pooled`` (all N·S candidates together),
    ``spearman_per_image`` (mean over images of the within-image
    correlation), ``top1`` (share of images whose chosen candidate is the
    best) and ``psnr_selected`` / ``psnr_oracle`` / ``psnr_input`` (mean
    PSNR of the chosen, the best and the degraded input: ``input_psnr``
    (N,), or the first candidate's when not given).
    """
    scores = scores.detach().cpu().double()
    quality = quality.detach().cpu().double()
    per_image = [spearman(s, q) for s, q in zip(scores, quality)]
    chosen = scores.argmax(1)
    best = quality.max(1).values
    picked = quality.gather(1, chosen[:, None])[:, 0]
    return dict(
        spearman_pooled=spearman(scores.flatten(), quality.flatten()),
        spearman_per_image=float(np.nanmean(per_image)),
        top1=float((picked >= best - 1e-9).double().mean()),
        psnr_selected=float(picked.mean()),
        psnr_oracle=float(best.mean()),
        psnr_input=float((quality[:, 0] if input_psnr is None else
                          input_psnr.detach().cpu().double()).mean()))


__all__ = [
    'QUALITY_DEGRADATIONS', 'PSNR_CAP', 'CANDIDATE_LADDER', 'psnr',
    'gaussian_filter', 'median_filter3', 'apply_filter', 'candidate_ladder',
    'random_restorations', 'synthetic_pairs', 'synthetic_cod_pairs',
    'COD_DEGRADATIONS', 'COD_LEVELS', 'spearman', 'ranking_report'
]
