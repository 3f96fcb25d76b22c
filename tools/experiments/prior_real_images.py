"""Degradation priors on full-size real photographs none of them trained on.

``python tools/experiments/prior_real_images.py --prior NAME CONFIG CKPT
[--prior ...] [--sizes 1 0.5] [--draws 3] [--synthetic] [--out FILE.json]``

The embedded tiny priors (the DA-CLIP of configs/daclip, VLU-Net's CLIP
adapters of configs/vlunet) train on 64 px crops of the scikit-image
photographs. This script asks them about whole photographs instead, as a
user's image reaches them: at full size (and at the ``--sizes`` fractions of
it), degraded, then resized to the CLIP input by the prior itself.

Photographs (:data:`HELD_OUT_PHOTOS`): matplotlib's ``grace_hopper.jpg``,
scikit-image's ``rocket`` (the dark launch photograph) and ``clock`` (a grey
photograph); none is a source of an embedded degradation training set
(``SKIMAGE_SOURCES``).

The degradations are written here, with numpy and OpenCV, independently of
:mod:`dunseg.physics.synthesizers` (a prior that had learned the
synthesizers' quirks rather than the degradation would be caught): Gaussian
noise σ 25, haze by atmospheric scattering over a depth ramp, low light
(gamma and exposure), motion or defocus blur, JPEG quality 10-20, rain
streaks, ×3-4 low resolution, and the clean photograph. Each prior is scored
on the classes it knows (:data:`TEST_CLASS_OF`); a prior with three noise
levels is right for σ 25 only when it answers ``denoise_25``, and the
confusion table shows how often it answered another noise level.

``--synthetic`` also scores each prior on its config's validation crops
and on the same crops drawn multi-scale (``crop_sides=(64, 512)``).
"""
import argparse
import json
import os.path as osp
import sys
import time
from collections import OrderedDict

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from dunseg.datasets.synthetic_degradation import (  # noqa: E402
    SKIMAGE_SOURCES,
    load_skimage_sources,
)

HELD_OUT_PHOTOS = ('matplotlib:grace_hopper.jpg', 'rocket', 'clock')

#: the class each prior vocabulary uses for a test degradation
TEST_CLASS_OF = OrderedDict(
    noise=('denoise_25', ),
    haze=('dehaze', ),
    rain=('derain', ),
    blur=('deblur', ),
    lowlight=('delowlight', ),
    jpeg=('jpeg', ),
    lowres=('lowres', ),
    clean=('clean', ),
)


# ------------------------------------------------------------ degradations
def _gaussian_noise(img, rng, draw):
    return img + rng.standard_normal(img.shape).astype(np.float32) * (
        25.0 / 255.0)


def _haze(img, rng, draw):
    """I = J t + A (1 - t), t = exp(-β d): depth rises towards the top
    with a smooth random undulation."""
    h, w = img.shape[:2]
    ramp = np.linspace(1.0, 0.3, h, dtype=np.float32)[:, None]
    wobble = cv2.resize(rng.uniform(-0.15, 0.15, (4, 4)).astype(np.float32),
                        (w, h), interpolation=cv2.INTER_CUBIC)
    depth = np.clip(ramp + wobble, 0.2, 1.0)
    beta = rng.uniform(1.2, 2.2)
    airlight = rng.uniform(0.75, 0.95) + rng.uniform(-0.03, 0.03, 3)
    t = np.exp(-beta * depth)[..., None]
    return img * t + airlight.astype(np.float32) * (1.0 - t)


def _low_light(img, rng, draw):
    gamma = rng.uniform(1.5, 2.5)
    exposure = rng.uniform(0.15, 0.35)
    return exposure * np.power(img, gamma)


def _blur(img, rng, draw):
    """Even draws: camera shake along a line of 15-25 px; odd: defocus, a
    disc of radius 5-8 px."""
    if draw % 2 == 0:
        length = int(rng.integers(15, 26))
        kernel = np.zeros((length, length), np.float32)
        angle = rng.uniform(0, np.pi)
        c = (length - 1) / 2
        dx, dy = np.cos(angle) * c, np.sin(angle) * c
        cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))),
                 (int(round(c + dx)), int(round(c + dy))), 1.0, 1,
                 cv2.LINE_AA)
    else:
        radius = int(rng.integers(5, 9))
        kernel = np.zeros((2 * radius + 1, ) * 2, np.float32)
        cv2.circle(kernel, (radius, radius), radius, 1.0, -1, cv2.LINE_AA)
    kernel /= kernel.sum()
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)


def _jpeg(img, rng, draw):
    quality = int(rng.integers(10, 21))
    bgr = (np.clip(img, 0, 1)[..., ::-1] * 255.0 + 0.5).astype(np.uint8)
    ok, code = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, 'OpenCV could not encode a JPEG'
    return cv2.imdecode(code, cv2.IMREAD_COLOR)[..., ::-1].astype(
        np.float32) / 255.0


def _rain(img, rng, draw):
    """Bright slanted streaks, 15-35 px long, softened and added."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    slant = rng.uniform(-20, 20)
    count = int(rng.uniform(0.3, 0.6) * h * w / 100)
    for _ in range(count):
        length = rng.uniform(15, 35)
        angle = np.radians(slant + rng.uniform(-3, 3))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        dx, dy = np.sin(angle) * length / 2, np.cos(angle) * length / 2
        cv2.line(layer, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)),
                 float(rng.uniform(0.6, 1.0)), 1, cv2.LINE_AA)
    layer = cv2.GaussianBlur(layer, (0, 0), 0.8)
    layer *= rng.uniform(0.6, 0.9) / max(float(layer.max()), 1e-6)
    return img + layer[..., None]


def _low_resolution(img, rng, draw):
    h, w = img.shape[:2]
    factor = rng.uniform(3.0, 4.0)
    small = cv2.resize(img, (max(1, round(w / factor)),
                             max(1, round(h / factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _clean(img, rng, draw):
    return img.copy()


DEGRADE = OrderedDict(noise=_gaussian_noise, haze=_haze, rain=_rain,
                      blur=_blur, lowlight=_low_light, jpeg=_jpeg,
                      lowres=_low_resolution, clean=_clean)


def degrade(img: np.ndarray, kind: str, seed: int, draw: int) -> np.ndarray:
    """``img`` (H, W, 3) in [0, 1] degraded by ``kind`` (draw ``draw``)."""
    rng = np.random.default_rng([seed, list(DEGRADE).index(kind), draw])
    out = DEGRADE[kind](img.astype(np.float32), rng, draw)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def held_out_photos(sizes):
    """{(photo, size): clean (H, W, 3) float32}; ``size`` is the fraction
    of the full photograph (INTER_AREA)."""
    overlap = set(HELD_OUT_PHOTOS) & set(SKIMAGE_SOURCES)
    if overlap:
        raise RuntimeError(f'{sorted(overlap)} is a training source')
    photos = OrderedDict()
    for name, img in load_skimage_sources(HELD_OUT_PHOTOS).items():
        for size in sizes:
            h, w = img.shape[:2]
            shape = (max(8, round(w * size)), max(8, round(h * size)))
            photos[name, size] = img if size == 1 else cv2.resize(
                img, shape, interpolation=cv2.INTER_AREA)
    return photos


# ------------------------------------------------------------------ priors
def load_prior(config: str, checkpoint: str):
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from dunseg.registry import MODELS
    from dunseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    return cfg, model


@torch.no_grad()
def predict(model, img: np.ndarray) -> int:
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
    return int(model.prior(x.float())['logits'].argmax(1))


def score_real(model, classes, photos, draws, seed):
    """Confusion {test kind: {predicted class: count}} over the kinds the
    prior has a class for."""
    confusion = OrderedDict()
    for kind, names in TEST_CLASS_OF.items():
        if not any(n in classes for n in names):
            continue
        row = OrderedDict((c, 0) for c in classes)
        for (photo, size), clean in photos.items():
            for draw in range(draws):
                row[classes[predict(model, degrade(clean, kind, seed,
                                                   draw))]] += 1
        confusion[kind] = row
    return confusion


def score_synthetic(cfg, model, multiscale: bool):
    from dunseg.registry import DATASETS
    dataset_cfg = dict(cfg.val_dataloader.dataset)
    dataset_cfg['pipeline'] = []
    if multiscale:
        dataset_cfg['crop_sides'] = (64, 512)
    dataset = DATASETS.build(dataset_cfg)
    right = 0
    for i in range(len(dataset)):
        sample = dataset.generate(i)
        right += predict(model, sample['img']) == sample['degradation_label']
    return 100.0 * right / len(dataset)


def markdown(name, classes, confusion):
    lines = [f'{name}: rows = applied degradation, columns = answer '
             '(count), last = accuracy',
             '| applied | ' + ' | '.join(classes) + ' | acc |',
             '|---' * (len(classes) + 2) + '|']
    accuracies = []
    for kind, row in confusion.items():
        total = sum(row.values())
        right = sum(v for c, v in row.items() if c in TEST_CLASS_OF[kind])
        accuracies.append(100.0 * right / total)
        lines.append(f'| {kind} | ' + ' | '.join(str(v) for v in row.values())
                     + f' | {accuracies[-1]:.0f} % |')
    lines.append(f'mean per-class accuracy: {np.mean(accuracies):.1f} %')
    return '\n'.join(lines), float(np.mean(accuracies))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--prior', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
                        help="a prior to score; CHECKPOINT '' = as built")
    parser.add_argument('--sizes', nargs='+', type=float, default=[1.0, 0.5],
                        help='fractions of the full photograph')
    parser.add_argument('--draws', type=int, default=3,
                        help='random draws of each degradation per photo')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--synthetic', action='store_true',
                        help='also score the validation crops')
    parser.add_argument('--out', help='JSON file for the results')
    args = parser.parse_args(argv)
    for name, config, checkpoint in args.prior:
        if not osp.isfile(config):
            parser.error(f'--prior {name}: no config file {config}')
        if checkpoint and not osp.isfile(checkpoint):
            parser.error(f'--prior {name}: no checkpoint {checkpoint}')
    if not args.sizes or min(args.sizes) <= 0 or max(args.sizes) > 1:
        parser.error(f'--sizes must be fractions in (0, 1], got {args.sizes}')
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    photos = held_out_photos(args.sizes)
    results = OrderedDict(
        date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
        photos=[f'{p} {img.shape[1]}x{img.shape[0]}'
                for (p, _), img in photos.items()],
        draws=args.draws, seed=args.seed, priors=OrderedDict())
    for name, config, checkpoint in args.prior:
        cfg, model = load_prior(config, checkpoint)
        classes = tuple(model.classes)
        confusion = score_real(model, classes, photos, args.draws, args.seed)
        table, mean = markdown(name, classes, confusion)
        print(table, flush=True)
        entry = OrderedDict(config=config, checkpoint=checkpoint,
                            classes=classes, confusion=confusion,
                            mean_real_accuracy=mean)
        if args.synthetic:
            entry['synthetic_val_accuracy'] = score_synthetic(
                cfg, model, multiscale=False)
            entry['synthetic_multiscale_accuracy'] = score_synthetic(
                cfg, model, multiscale=True)
            print(f'{name}: synthetic val '
                  f"{entry['synthetic_val_accuracy']:.2f} %, multi-scale "
                  f"synthetic {entry['synthetic_multiscale_accuracy']:.2f} %",
                  flush=True)
        results['priors'][name] = entry
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    main()
