"""Score a VL-DUN checkpoint on held-out real CT / MR slices.

An evaluation kept apart from the training code: the slices are read with
pydicom / numpy here, and the undersampling masks, the zero-filled inputs and
PSNR are written here in numpy (SSIM is scikit-image's), so a bug in
dunseg's mask or k-space code cannot flatter the model. dunseg provides only
the model (``dunseg.apis.init_model``) and the packing of its inputs.

Held-out slices (none of them is a training crop,
``dunseg.datasets.medical.HELD_OUT_SLICES``):

- ``ct_small``: pydicom's ``CT_small.dcm`` (128x128 CT, HU window (40, 400));
- ``mr_small``: pydicom's ``MR_small.dcm`` (64x64 MR, 0.5-99.5 percentiles);
- ``s1045``: matplotlib's sample MR slice ``s1045.ima.gz`` (256x256
  16-bit, percentiles).

Each slice is scored at the training size (the whole slice resized to 64x64,
area interpolation) and at its native size, under a radial mask (spokes
through the DC pixel) and a Cartesian one (random columns plus 8 % of
central ones), both at the training acceleration (4: the fewest spokes /
columns that sample a quarter of k-space), ``--seeds`` masks each. Reported:
PSNR / SSIM of the zero-filled input (clipped to [0, 1], as the model's
output is) and of the model, and the dual prior's modality / pattern
calls.

    python tools/experiments/vldun_real_slices.py CONFIG CHECKPOINT \\
        --out work_dirs/real_slices.json
"""
import argparse
import json
import os.path as osp
import sys
from collections import defaultdict

import numpy as np

ACCELERATION = 4.0
CENTRE_FRACTION = 0.08


# --------------------------------------------------------------- slices ---
def _window_ct(hu, centre=40.0, width=400.0):
    return np.clip((hu - (centre - width / 2)) / width, 0, 1)


def _percentiles(values, lo=0.5, hi=99.5):
    a, b = np.percentile(values, (lo, hi))
    return np.clip((values - a) / (b - a), 0, 1)


def held_out_slices():
    """name -> (float64 (H, W) in [0, 1], 'CT' / 'MRI')."""
    import pydicom
    from pydicom.data import get_testdata_file
    out = {}
    for name, file, modality in (('ct_small', 'CT_small.dcm', 'CT'),
                                 ('mr_small', 'MR_small.dcm', 'MRI')):
        path = get_testdata_file(file, download=False)
        if path is None:
            print(f'skipped {file}: pydicom does not ship it here')
            continue
        ds = pydicom.dcmread(path)
        values = ds.pixel_array.astype(np.float64) * float(
            getattr(ds, 'RescaleSlope', 1)) + float(
                getattr(ds, 'RescaleIntercept', 0))
        out[name] = (_window_ct(values) if modality == 'CT' else
                     _percentiles(values), modality)
    try:
        import matplotlib.cbook as cbook
        with cbook.get_sample_data('s1045.ima.gz') as f:
            raw = np.frombuffer(f.read(), np.uint16).reshape(256, 256)
        out['s1045'] = (_percentiles(raw.astype(np.float64)), 'MRI')
    except (ImportError, OSError, ValueError) as err:
        print(f'skipped s1045.ima.gz: {err}')
    return out


def resize_area(image, size):
    import cv2
    return cv2.resize(image.astype(np.float32), (size, size),
                      interpolation=cv2.INTER_AREA).astype(np.float64)


# ---------------------------------------------------------------- masks ---
def radial_mask(shape, rng, acceleration=ACCELERATION):
    """Spokes through (H // 2, W // 2) at evenly spaced angles over 180°
    (random offset), as few as sample >= 1 / acceleration of k-space."""
    h, w = shape
    cy, cx = h // 2, w // 2
    # half-pixel steps symmetric about 0, so each spoke samples k and -k
    half_steps = int(np.ceil(2 * np.hypot(h, w)))
    t = np.arange(-half_steps, half_steps + 1) * 0.5
    offset = rng.uniform(0, np.pi)
    for spokes in range(1, 4 * max(h, w)):
        mask = np.zeros(shape, bool)
        for angle in offset + np.pi * np.arange(spokes) / spokes:
            y = np.rint(cy + t * np.sin(angle)).astype(int)
            x = np.rint(cx + t * np.cos(angle)).astype(int)
            keep = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            mask[y[keep], x[keep]] = True
        # a spoke's end on the first row / column has its mirror off the
        # grid; add it, so the mask samples k and -k alike
        mask |= np.roll(np.flip(mask, (0, 1)), (1 - h % 2, 1 - w % 2),
                        (0, 1))
        if mask.mean() >= 1 / acceleration:
            return mask.astype(np.float64)
    raise RuntimeError('radial_mask: acceleration out of reach')


def cartesian_mask(shape, rng, acceleration=ACCELERATION,
                   centre_fraction=CENTRE_FRACTION):
    """Full columns: the central ``centre_fraction`` plus random others,
    ``W / acceleration`` in all."""
    h, w = shape
    total = int(round(w / acceleration))
    centre = max(1, int(round(w * centre_fraction)))
    columns = set(range(w // 2 - centre // 2, w // 2 - centre // 2 + centre))
    others = [c for c in range(w) if c not in columns]
    extra = rng.choice(others, size=max(0, total - len(columns)),
                       replace=False)
    mask = np.zeros(shape)
    mask[:, sorted(columns | set(int(c) for c in extra))] = 1
    return mask


def zero_filled(image, centred_mask):
    spectrum = np.fft.fft2(image, norm='ortho')
    return np.fft.ifft2(np.fft.ifftshift(centred_mask) * spectrum,
                        norm='ortho').real


# -------------------------------------------------------------- metrics ---
def psnr(output, reference):
    mse = np.mean((output - reference)**2)
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


def ssim(output, reference):
    from skimage.metrics import structural_similarity
    return float(structural_similarity(output, reference, data_range=1.0))


def consistent(image, degraded, centred_mask):
    """numpy projection onto the measurements (for a real slice a sample at
    k also fixes -k): what an untrained ``data_consistency`` VL-DUN with
    ``zero_init_output`` returns, written here independently."""
    mask = np.fft.ifftshift(centred_mask)
    h, w = mask.shape
    mirrored = np.roll(np.flip(mask, (0, 1)), (1, 1), (0, 1))
    sampled = (mask + mirrored) / 2
    spectrum = np.fft.fft2(image, norm='ortho')
    observed = np.fft.fft2(degraded, norm='ortho') / np.maximum(sampled, 0.5)
    return np.fft.ifft2(np.where(sampled > 0, observed, spectrum),
                        norm='ortho').real


class DesignAlone:
    """Stands in for the model: projection, [0, 1] clip, projection, clip
    (``consistency_box=(0, 1)`` and ``predict``'s final clip)."""

    def predict_numpy(self, degraded, centred_mask):
        image = consistent(degraded, degraded, centred_mask)
        image = consistent(np.clip(image, 0, 1), degraded, centred_mask)
        return np.clip(image, 0, 1), None, None


# ---------------------------------------------------------------- model ---
def restore(model, degraded, centred_mask):
    """(restored (H, W) in [0, 1], pred_modality, pred_degradation)."""
    if isinstance(model, DesignAlone):
        return model.predict_numpy(degraded, centred_mask)
    if getattr(model, 'score_prior_only', False):
        return prior_calls(model, degraded)
    import torch
    from mmengine.structures import PixelData

    from dunseg.structures import DunSegDataSample
    sample = DunSegDataSample()
    sample.kspace_mask = PixelData(
        data=torch.from_numpy(centred_mask[None].astype(np.float32)))
    inputs = torch.from_numpy(degraded[None, None].astype(np.float32))
    with torch.no_grad():
        out = model.predict(inputs, [sample])[0]
    restored = out.pred_image.data[0].double().numpy()
    return (restored, out.metainfo.get('pred_modality'),
            out.metainfo.get('pred_degradation'))


def prior_calls(model, degraded):
    """(zero-filled input, modality, pattern): the dual prior alone."""
    import torch
    inputs = torch.from_numpy(degraded[None, None].astype(np.float32))
    with torch.no_grad():
        calls = model._recognised(model.prior(inputs), 0)
    return (np.clip(degraded, 0, 1), calls.get('pred_modality'),
            calls.get('pred_degradation'))


def evaluate(model, slices, seeds, sizes=('64', 'native')):
    rows = []
    for name, (image, modality) in slices.items():
        for size in sizes:
            if size == 'native' and image.shape == (64, 64):
                continue  # native is the training size: scored once
            clean = image if size == 'native' else resize_area(image, 64)
            for pattern, make in (('radial', radial_mask),
                                  ('cartesian', cartesian_mask)):
                for seed in range(seeds):
                    rng = np.random.default_rng([seed, len(name), 7])
                    mask = make(clean.shape, rng)
                    degraded = zero_filled(clean, mask)
                    baseline = np.clip(degraded, 0, 1)
                    restored, pred_mod, pred_deg = restore(
                        model, degraded, mask)
                    rows.append(dict(
                        slice=name, modality=modality, size=size,
                        shape=list(clean.shape), pattern=pattern, seed=seed,
                        sampled=float(mask.mean()),
                        psnr_input=psnr(baseline, clean),
                        ssim_input=ssim(baseline, clean),
                        psnr=psnr(restored, clean),
                        ssim=ssim(restored, clean),
                        pred_modality=pred_mod, pred_degradation=pred_deg))
    return rows


def summarise(rows):
    groups = defaultdict(list)
    for row in rows:
        groups[(row['slice'], row['size'], row['pattern'])].append(row)
    lines = ['| slice | size | mask | PSNR input → VL-DUN | SSIM input → '
             'VL-DUN | worse than input (PSNR / SSIM) | prior: modality / '
             'pattern right |', '|---|---|---|---|---|---|---|']
    for (name, size, pattern), group in groups.items():
        mean = {k: np.mean([r[k] for r in group])
                for k in ('psnr_input', 'psnr', 'ssim_input', 'ssim')}
        worse_psnr = sum(r['psnr'] < r['psnr_input'] - 1e-6 for r in group)
        worse_ssim = sum(r['ssim'] < r['ssim_input'] - 1e-6 for r in group)
        right_mod = sum(_same_modality(r) for r in group)
        right_deg = sum(r['pred_degradation'] == r['pattern'] for r in group)
        calls = (f'{right_mod} / {right_deg} of {len(group)}'
                 if group[0]['pred_modality'] is not None else '—')
        shape = 'x'.join(str(s) for s in group[0]['shape'])
        lines.append(
            f'| {name} | {shape} | {pattern} | {mean["psnr_input"]:.2f} → '
            f'{mean["psnr"]:.2f} | {mean["ssim_input"]:.3f} → '
            f'{mean["ssim"]:.3f} | {worse_psnr} / {worse_ssim} of '
            f'{len(group)} | {calls} |')
    return '\n'.join(lines)


def _same_modality(row):
    pred = str(row['pred_modality'])
    return pred.upper().endswith('CT') == (row['modality'] == 'CT')


def prior_accuracy(rows):
    """Per class (true modality; true pattern) accuracy of the prior."""
    out = {}
    for key, truth, right in (
            ('modality', lambda r: r['modality'], _same_modality),
            ('pattern', lambda r: r['pattern'],
             lambda r: r['pred_degradation'] == r['pattern'])):
        per_class = defaultdict(list)
        for row in rows:
            per_class[(truth(row), row['size'])].append(bool(right(row)))
        out[key] = {f'{c} @ {s}': float(np.mean(v))
                    for (c, s), v in sorted(per_class.items())}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint',
                        help="the VL-DUN's checkpoint; 'none' = untrained "
                        '(with zero_init_output and data_consistency the '
                        "consistent zero-filled input); 'design-alone' = "
                        'that output computed here in numpy, no model')
    parser.add_argument('--prior-checkpoint',
                        help="with checkpoint 'none': the tuned dual prior")
    parser.add_argument('--seeds', type=int, default=3,
                        help='masks per slice, size and pattern')
    parser.add_argument('--out', help='JSON file for every row')
    parser.add_argument('--prior-only', action='store_true',
                        help='score the dual prior alone (no unfolding)')
    args = parser.parse_args(argv)
    if args.checkpoint == 'design-alone':
        rows = evaluate(DesignAlone(), held_out_slices(), args.seeds)
        print(summarise(rows))
        if args.out:
            with open(args.out, 'w') as f:
                json.dump(dict(rows=rows), f, indent=1)
        return rows
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    if checkpoint is not None and not osp.isfile(checkpoint):
        sys.exit(f'checkpoint {checkpoint!r} not found')
    options = None
    if args.prior_checkpoint:
        if checkpoint is not None:
            sys.exit('--prior-checkpoint goes with checkpoint none (a '
                     'trained checkpoint holds its prior)')
        options = {'model.prior_checkpoint': args.prior_checkpoint}
    import torch

    from dunseg.apis import init_model
    torch.manual_seed(0)
    model = init_model(args.config, checkpoint, cfg_options=options)
    model.score_prior_only = args.prior_only
    rows = evaluate(model, held_out_slices(), args.seeds)
    table = summarise(rows)
    accuracy = prior_accuracy(rows)
    print(table)
    print(json.dumps(accuracy, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(rows=rows, prior_accuracy=accuracy), f, indent=1)
    return rows


if __name__ == '__main__':
    main()
