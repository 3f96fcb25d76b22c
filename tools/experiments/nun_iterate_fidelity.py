"""How faithful is every DeRUN iterate of a NUN checkpoint?

For the first ``--num-images`` images of each test set of the config (each
member of a ``ConcatDataset``, e.g. the clean split and its four
degradations), runs the model and prints the PSNR against the clean image
(``gt_image``; a clean sample is its own reference) of the input, of every
DeRUN iterate X_{k,n} of every stage, and of the one the selector chose.
On a clean set this measures how close the restorer stays to the identity,
the ceiling any mild degradation has to beat (configs/nun/README.md).

``--drop-cues`` zeroes X2, the segmentation cues DeRUN adds to each
iterate, to see whether they are what moves the image. ``--colour-fit``
scores every image after the per-channel gain and offset that best match
it to the clean image (least squares): what it still loses is structure
(detail, artefacts), not global colour or contrast.

    python tools/experiments/nun_iterate_fidelity.py \\
        configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py \\
        work_dirs/nun-tiny/iter_1000.pth \\
        --cfg-options model.prior.daclip_pretrained=PATH --num-images 32 \\
        [--colour-fit]
"""
import argparse
import json
from typing import Dict, List

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import ConcatDataset

from dunseg.engine.checkpoint import load_model_weights, load_weights_only
from dunseg.models.selectors.quality_data import psnr
from dunseg.registry import DATASETS, MODELS
from dunseg.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='PSNR of every DeRUN iterate of a NUN checkpoint')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-images', type=int, default=32,
                        help='images taken from the start of each test set')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--drop-cues', action='store_true',
                        help="zero X2's output (the segmentation cues)")
    parser.add_argument(
        '--colour-fit', action='store_true',
        help='score each image after its least-squares per-channel gain '
        'and offset towards the clean image (structure only)')
    parser.add_argument('--out', help='also write the figures as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def test_sets(cfg: Config) -> Dict[str, object]:
    """The config's test sets by their ``dataset_name``."""
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    members = (dataset.datasets
               if isinstance(dataset, ConcatDataset) else [dataset])
    sets = {}
    for index, member in enumerate(members):
        name = (getattr(member, 'dataset_name', None)
                or member.metainfo.get('dataset_name')
                or type(member).__name__)
        sets[name if name not in sets else f'{name}#{index}'] = member
    return sets


def drop_cues(model) -> List:
    """Forward hooks that zero every DeRUN iteration's X2 output."""
    handles = []
    for name, module in model.named_modules():
        if name.endswith('.x2'):
            handles.append(module.register_forward_hook(
                lambda mod, args, out: torch.zeros_like(out)))
    if not handles:
        raise ValueError('--drop-cues: the model has no DeRUN X2 branch '
                         "(no module named '*.x2')")
    return handles


#: PSNR (dB) from which an image counts as an exact copy of its reference.
EXACT_COPY_DB = 100.0


def image_psnr(images: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR of the clamped images; uncapped, so an image equal to
    its reference scores 120 dB (the MSE floor of ``psnr``)."""
    return psnr(images.clamp(0, 1), clean, max_db=float('inf'))


def colour_fit(images: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """``a·images + b`` per image and channel, with the gain a and offset b
    that minimise the squared error to ``clean`` (a flat channel keeps gain
    0 and takes the clean mean)."""
    images = images.clamp(0, 1)
    dims = (2, 3)
    centred = images - images.mean(dims, keepdim=True)
    clean_mean = clean.mean(dims, keepdim=True)
    variance = centred.pow(2).mean(dims, keepdim=True)
    covariance = (centred * (clean - clean_mean)).mean(dims, keepdim=True)
    gain = torch.where(variance > 1e-12, covariance / variance.clamp_min(
        1e-12), torch.zeros_like(variance))
    return gain * centred + clean_mean


def summarise(per_image: Dict[str, List[float]]) -> Dict[str, float]:
    """Mean PSNR per key. With ``select_stage_input`` a stage may pass its
    input on unchanged; on a clean set such exact copies score 120 dB and
    dominate a mean in dB, so for the selections that hold some, their
    share (``<key>/exact_copies``) and the mean of the other images
    (``<key>/others``, when there are any) are added."""
    figures = {key: sum(v) / len(v) for key, v in per_image.items()}
    for key, values in per_image.items():
        copies = [v for v in values if v >= EXACT_COPY_DB]
        if copies and key.endswith('/selected'):
            rest = [v for v in values if v < EXACT_COPY_DB]
            figures[key + '/exact_copies'] = len(copies) / len(values)
            if rest:
                figures[key + '/others'] = sum(rest) / len(rest)
    return figures


@torch.no_grad()
def iterate_fidelity(model, dataset, num_images: int, batch_size: int,
                     fit_colour: bool = False) -> dict:
    """Mean PSNR of the input, of every iterate and of the selected image
    per stage over the first ``num_images`` samples of ``dataset``
    (``fit_colour``: after :func:`colour_fit`)."""
    count = min(num_images, len(dataset))
    if count == 0:
        raise ValueError('the test set is empty')
    sums: Dict[str, List[float]] = {}

    def add(key, values):
        sums.setdefault(key, []).extend(values.tolist())

    def score(images, clean):
        if fit_colour:
            images = colour_fit(images, clean)
        return image_psnr(images, clean)

    for start in range(0, count, batch_size):
        items = [dataset[i] for i in range(start, min(count,
                                                     start + batch_size))]
        data = model.data_preprocessor(
            dict(inputs=[it['inputs'] for it in items],
                 data_samples=[it['data_samples'] for it in items]),
            training=False)
        inputs = data['inputs']
        clean = model.clean_images(inputs, data['data_samples'])
        add('input', score(inputs, clean))
        for stage, state in enumerate(model.extract_states(inputs)[1:], 1):
            first = int(state.get('first_iterate', 1))
            for i in range(state['iterates'].shape[1]):
                add(f'stage{stage}/X_{stage},{first + i}',
                    score(state['iterates'][:, i], clean))
            add(f'stage{stage}/selected', score(state['image'], clean))
    return summarise(sums)


def format_table(results: Dict[str, dict]) -> str:
    lines = []
    for name, figures in results.items():
        lines.append(f'{name}: input {figures["input"]:.2f} dB')
        stages = sorted({k.split('/')[0] for k in figures if '/' in k},
                        key=lambda s: int(s[5:]))
        for stage in stages:
            iterates = [
                f'{k.split("/")[1]} {v:.2f}' for k, v in figures.items()
                if k.startswith(stage + '/X_')
            ]
            selected = stage + '/selected'
            line = (f'  {stage}: {", ".join(iterates)}; selected '
                    f'{figures[selected]:.2f}')
            if selected + '/exact_copies' in figures:
                share = 100 * figures[selected + '/exact_copies']
                others = figures.get(selected + '/others')
                line += f' ({share:.0f} % exact copies of the clean image'
                line += (f', the others {others:.2f})'
                         if others is not None else ')')
            lines.append(line)
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'extract_states') or \
            not hasattr(model, 'clean_images'):
        raise TypeError(f'{args.config}: the model is a '
                        f'{type(model).__name__}; this tool reads the DeRUN '
                        'iterates of a NUNSegmentor')
    load_model_weights(model, load_weights_only(args.checkpoint, 'cpu'),
                       args.checkpoint,
                       keep_built=cfg.get('keep_built_weights', ()))
    model.eval()
    if args.drop_cues:
        drop_cues(model)
    results = {
        name: iterate_fidelity(model, dataset, args.num_images,
                               args.batch_size, args.colour_fit)
        for name, dataset in test_sets(cfg).items()
    }
    print(format_table(results))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    main()
