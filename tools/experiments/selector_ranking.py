"""How well selectors rank restorations on held-out embedded images.

For ``--num-images`` held-out (clean, degraded) pairs of
``SyntheticDegradationDataset`` (test split: photo regions disjoint from the
training split; every embedded degradation, noise σ 15/25/50 included), and
``--cod-images`` per degradation kind of ``SyntheticCODDataset`` (NUN's low
light, haze, low resolution, combined; light to heavy), it
builds the fixed ladder of 8 candidate restorations of
``quality_data.CANDIDATE_LADDER`` (the input, Gaussian / median filtered
input, blends t = 0.25, 0.5, 0.75, 0.9, a filtered blend), scores them with
each selector and compares with the full-reference PSNR against the clean
image::

    python tools/experiments/selector_ranking.py
    python tools/experiments/selector_ranking.py --weights my_net.pth \
        --num-images 80
    python tools/experiments/selector_ranking.py \
        --input-aware \
        dunseg/models/selectors/weights/input_aware_quality_net.pth

``--input-aware`` adds an ``InputAwareQualitySelector`` (it also sees the
degraded input, the ladder's first rung).

Reported per selector (overall and per degradation): Spearman correlation of
scores and PSNR over all candidates pooled, the mean within-image Spearman,
top-1 (the chosen candidate is the best), and the mean PSNR of the chosen
candidate against the oracle's and the degraded input's.
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import torch  # noqa: E402

from dunseg.models.selectors import (  # noqa: E402
    DEFAULT_QUALITY_WEIGHTS,
    InputAwareQualitySelector,
    LastSelector,
    LearnedQualitySelector,
    OracleSelector,
)
from dunseg.models.selectors.quality_data import (  # noqa: E402
    COD_DEGRADATIONS,
    QUALITY_DEGRADATIONS,
    candidate_ladder,
    psnr,
    ranking_report,
    synthetic_cod_pairs,
    synthetic_pairs,
)


def evaluate(selectors: dict, data: dict, kinds, seed: int = 0) -> dict:
    """Scores of every selector on the shuffled ladders of ``data``
    (``synthetic_pairs`` / ``synthetic_cod_pairs`` output), overall and
    per degradation kind."""
    clean = data['clean']
    candidates = candidate_ladder(clean, data['degraded'])
    input_psnr = psnr(data['degraded'], clean)
    # shuffle the rungs of every image: the ladder improves monotonically,
    # so in its own order 'last' would always be right; real iterates
    # need not improve monotonically
    generator = torch.Generator().manual_seed(seed)
    order = torch.stack([torch.randperm(candidates.shape[1],
                                        generator=generator)
                         for _ in range(len(candidates))])
    candidates = candidates[torch.arange(len(candidates))[:, None], order]
    quality = psnr(candidates, clean[:, None])
    names = data['degradations']
    results = {}
    for label, selector in selectors.items():
        if getattr(selector, 'needs_observation', False):
            _, scores = selector(candidates, reference=clean,
                                 observation=data['degraded'])
        else:
            _, scores = selector(candidates, reference=clean)
        rows = {'all': ranking_report(scores, quality, input_psnr)}
        for degradation in kinds:
            keep = torch.tensor([n == degradation for n in names])
            if keep.any():
                rows[degradation] = ranking_report(
                    scores[keep], quality[keep], input_psnr[keep])
        results[label] = rows
    return results


def print_results(title: str, results: dict) -> None:
    print(title)
    print(f'{"selector":<9} {"subset":<11} {"rho_pooled":>10} '
          f'{"rho_image":>9} {"top1":>6} {"PSNR sel":>8} '
          f'{"oracle":>7} {"input":>7}')
    for label, rows in results.items():
        for subset, r in rows.items():
            if label not in ('learned', 'input_aware') and subset != 'all':
                continue
            print(f'{label:<9} {subset:<11} {r["spearman_pooled"]:>10.3f} '
                  f'{r["spearman_per_image"]:>9.3f} {r["top1"]:>6.2f} '
                  f'{r["psnr_selected"]:>8.2f} {r["psnr_oracle"]:>7.2f} '
                  f'{r["psnr_input"]:>7.2f}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', default=DEFAULT_QUALITY_WEIGHTS,
                        help='QualityFeatureNet weights')
    parser.add_argument('--num-images', type=int, default=240,
                        help='held-out images (30 per degradation by '
                        'default)')
    parser.add_argument('--cod-images', type=int, default=30,
                        help="held-out images per SyntheticCOD degradation "
                        "(NUN's settings); 0 skips them")
    parser.add_argument('--input-aware', metavar='WEIGHTS',
                        help='also score with InputAwareQualitySelector '
                        'from this weight file')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--img-size', type=int, default=64)
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args()
    selectors = dict(
        learned=LearnedQualitySelector(args.weights),
        last=LastSelector(),
        oracle=OracleSelector())
    if args.input_aware:
        selectors['input_aware'] = InputAwareQualitySelector(
            args.input_aware)
    start = time.time()
    data = synthetic_pairs(args.num_images, split='test', seed=args.seed,
                           img_size=args.img_size)
    results = dict(embedded=evaluate(selectors, data, QUALITY_DEGRADATIONS,
                                     args.seed))
    print_results(f'SyntheticDegradationDataset: {args.num_images} held-out '
                  f'images x 8 candidates, {args.img_size} px',
                  results['embedded'])
    if args.cod_images:
        data = synthetic_cod_pairs(args.cod_images, split='test',
                                   seed=args.seed, img_size=args.img_size)
        results['cod'] = evaluate(selectors, data, COD_DEGRADATIONS,
                                  args.seed)
        print_results(f'SyntheticCODDataset: {args.cod_images} held-out '
                      'images per kind x 8 candidates, light/medium/heavy',
                      results['cod'])
    print(f'({time.time() - start:.1f} s)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
