"""Fit the offline selectors' QualityFeatureNet on the embedded data.

Writes ``dunseg/models/selectors/weights/quality_feature_net.pth`` (the file
``LearnedQualitySelector`` loads by default), or with ``--with-observation``
``input_aware_quality_net.pth`` (``InputAwareQualitySelector``'s), unless
``--out`` says otherwise::

    python tools/experiments/train_quality_selector.py      # ~5 min, 1 core
    python tools/experiments/train_quality_selector.py --with-observation \
        --tone-shift-prob 0.3                         # the shipped input-aware
    python tools/experiments/train_quality_selector.py --num-pairs 200 \
        --steps 200 --out /tmp/quick.pth                        # smoke test

``--with-observation`` scores every candidate beside its degraded input
(``pair_quality_features``) and makes ``--input-share`` of the candidates
that input itself; ``--tone-shift-prob`` gives that share of the
candidates a random global colour and contrast error
(``quality_data.tone_shift``), the way a trained DeRUN misses;
``--clean-share`` of the pairs have the clean image as their input.

Data: ``--num-pairs`` (clean, degraded) 64 px images of the *train* split of
``SyntheticDegradationDataset`` (every embedded degradation: noise σ
15/25/50, haze, rain, blur, low light, JPEG) and ``--cod-pairs`` per kind of
``SyntheticCODDataset``'s degradations (NUN's low light, haze, low
resolution and their combination, light to heavy), each restored at
``--levels``
random levels (blends ``t·clean + (1 − t)·degraded``, t ~ U(0, 0.95), 5 %
clean, 35 % followed by a Gaussian or median filter:
``quality_data.random_restorations``). Targets: PSNR against the clean
image, capped at ``--target-cap`` dB (nearly clean images are
indistinguishable without the reference). The 33 statistics of
``image_quality_features`` are computed once; each of the ``--members``
MLPs of the ensemble then trains (its own seed) on
mini-batches of whole groups (all levels of a pair) with smooth-L1 on the
normalised PSNR plus a logistic ranking loss on pairs of levels of the same
image that differ by more than 0.5 dB. Adam, cosine learning rate, fixed
seeds. The held-out check is ``tools/experiments/selector_ranking.py``.
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from dunseg.engine.checkpoint import atomic_torch_save  # noqa: E402
from dunseg.models.selectors.learned_quality import (  # noqa: E402
    DEFAULT_INPUT_AWARE_WEIGHTS,
    DEFAULT_QUALITY_WEIGHTS,
    PSNR_CENTRE,
    PSNR_SCALE,
    QualityFeatureNet,
    image_quality_features,
    pair_quality_features,
)
from dunseg.models.selectors.quality_data import (  # noqa: E402
    psnr,
    random_restorations,
    synthetic_cod_pairs,
    synthetic_pairs,
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out', help='weight file; default: the one the selector loads '
        'by default (DEFAULT_QUALITY_WEIGHTS, or with --with-observation '
        'DEFAULT_INPUT_AWARE_WEIGHTS)')
    parser.add_argument(
        '--with-observation', action='store_true',
        help='fit InputAwareQualitySelector: every candidate is scored '
        'beside its degraded input (pair_quality_features), and '
        '--input-share of the candidates are that input itself')
    parser.add_argument('--input-share', type=float, default=0.15)
    parser.add_argument(
        '--clean-share', type=float, default=0.0,
        help='share of the pairs whose "degraded" image is the clean one '
        '(NUN-tiny trains and tests on clean scenes too, where the best '
        'candidate is the unchanged input)')
    parser.add_argument('--num-pairs', type=int, default=4000)
    parser.add_argument(
        '--cod-pairs', type=int, default=500,
        help='pairs per SyntheticCOD degradation (low light, haze, low '
        'resolution, combined; NUN-tiny\'s data) added to the training set')
    parser.add_argument('--levels', type=int, default=6,
                        help='random restorations per pair')
    parser.add_argument(
        '--tone-shift-prob', type=float, default=0.0,
        help='share of training restorations given a random global colour '
        'and contrast error (quality_data.tone_shift); 0 reproduces the '
        'shipped weights')
    parser.add_argument('--target-cap', type=float, default=45.0)
    parser.add_argument('--steps', type=int, default=6000)
    parser.add_argument('--groups-per-step', type=int, default=48)
    parser.add_argument('--lr', type=float, default=3e-3)
    parser.add_argument('--rank-weight', type=float, default=1.0)
    parser.add_argument('--hidden', type=int, default=64)
    parser.add_argument('--members', type=int, default=5,
                        help='ensemble size; each MLP from its own seed')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args()


def ranking_loss(pred: torch.Tensor, target: torch.Tensor,
                 margin_db: float = 0.5) -> torch.Tensor:
    """Logistic loss on every ordered pair of levels of one image (rows of
    (G, L) tensors) whose PSNRs differ by more than ``margin_db``."""
    diff_pred = (pred[:, :, None] - pred[:, None, :]) / PSNR_SCALE
    diff_true = target[:, :, None] - target[:, None, :]
    mask = diff_true > margin_db
    if not mask.any():
        return pred.sum() * 0
    return F.softplus(-4 * diff_pred[mask]).mean()


def train_member(net, member, feats, targets, args, start):
    """Fit ``net.mlps[member]`` (its own seed and batch order)."""
    params = list(net.mlps[member].parameters())
    optimizer = torch.optim.Adam(params, lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.steps, eta_min=args.lr * 0.01)
    generator = torch.Generator().manual_seed(args.seed + 1 + member)
    running = None
    for step in range(1, args.steps + 1):
        pick = torch.randint(len(feats), (args.groups_per_step, ),
                             generator=generator)
        group_feats, target = feats[pick], targets[pick]
        pred = net.forward_member(group_feats.flatten(0, 1),
                                  member).view_as(target)
        loss_fit = F.smooth_l1_loss((pred - PSNR_CENTRE) / PSNR_SCALE,
                                    (target - PSNR_CENTRE) / PSNR_SCALE,
                                    beta=0.1)
        loss = loss_fit + args.rank_weight * ranking_loss(pred, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        value = float(loss.detach())
        running = value if running is None else 0.98 * running + 0.02 * value
        if step % 2000 == 0 or step == args.steps:
            mae = float((pred.detach() - target).abs().mean())
            print(f'member {member} step {step}/{args.steps}  loss '
                  f'{running:.4f}  batch PSNR MAE {mae:.2f} dB  '
                  f'{time.time() - start:.0f} s', flush=True)


def build_features(args):
    data = synthetic_pairs(args.num_pairs, split='train', seed=args.seed)
    clean, degraded = data['clean'], data['degraded']
    if args.cod_pairs:
        cod = synthetic_cod_pairs(args.cod_pairs, split='train',
                                  seed=args.seed)
        clean = torch.cat([clean, cod['clean']])
        degraded = torch.cat([degraded, cod['degraded']])
    generator = torch.Generator().manual_seed(args.seed)
    if args.clean_share > 0:
        clean_input = torch.rand(len(clean),
                                 generator=generator) < args.clean_share
        degraded = torch.where(clean_input.view(-1, 1, 1, 1), clean,
                               degraded)
    observed = (image_quality_features(degraded)
                if args.with_observation else None)
    feats, targets = [], []
    for _ in range(args.levels):
        images = random_restorations(clean, degraded, generator,
                                     args.tone_shift_prob)
        if args.with_observation:
            keep_input = torch.rand(len(images),
                                    generator=generator) < args.input_share
            images = torch.where(keep_input.view(-1, 1, 1, 1), degraded,
                                 images)
            feats.append(pair_quality_features(images, degraded, observed))
        else:
            feats.append(image_quality_features(images))
        targets.append(psnr(images, clean, args.target_cap))
    # (G, L, F) and (G, L): the levels of one pair form a group
    return torch.stack(feats, 1), torch.stack(targets, 1)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()
    feats, targets = build_features(args)
    print(f'{feats.shape[0]} pairs x {feats.shape[1]} levels, '
          f'{feats.shape[2]} features in {time.time() - start:.0f} s; '
          f'target PSNR {targets.mean():.1f} +- {targets.std():.1f} dB')
    net = QualityFeatureNet(args.hidden, args.members, feats.shape[2])
    flat = feats.flatten(0, 1)
    net.feature_mean.copy_(flat.mean(0))
    net.feature_std.copy_(flat.std(0).clamp_min(1e-6))
    for member in range(args.members):
        torch.manual_seed(args.seed + 100 * member)
        for layer in net.mlps[member]:
            if hasattr(layer, 'reset_parameters'):
                layer.reset_parameters()
        train_member(net, member, feats, targets, args, start)
    if args.out is None:
        args.out = (DEFAULT_INPUT_AWARE_WEIGHTS if args.with_observation
                    else DEFAULT_QUALITY_WEIGHTS)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    atomic_torch_save(
        dict(state_dict=net.state_dict(),
             meta=dict(script='tools/experiments/'
                       'train_quality_selector.py',
                       args=vars(args))), args.out)
    print(f'wrote {args.out} ({sum(p.numel() for p in net.parameters()):,} '
          f'parameters) after {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
