"""Write the procedural synthetic SIRST dataset to disk as PNG files.

The output uses the ``split_dirs`` layout of the official RPCANet code, so
it loads like a real dataset (``SIRSTAugDataset`` or
``ISTDDataset(layout='split_dirs')``) and can serve as demo input::

    <out-dir>/
    |-- trainval/
    |   |-- images/   synth_000000.png ...   8-bit grey, round(img * 255)
    |   `-- masks/    synth_000000.png ...   0 / 255
    `-- test/
        |-- images/
        `-- masks/

The images are those of ``SyntheticSIRSTDataset`` with the same seed and
size (quantised to 8 bit). Running the script again with the same arguments
rewrites nothing; stale ``synth_*.png`` files from an earlier run with more
samples are removed, other files are left alone.

Example::

    python tools/dataset_converters/make_synthetic_sirst.py \
        --out-dir data/synthetic-sirst --num-train 2000 --num-test 200 \
        --size 256 --seed 0
"""
import argparse
import os
import os.path as osp
import re
import sys
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.utils import track_iter_progress

# Allow running the script from a source checkout without installing dunseg.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from dunseg.datasets.synthetic_sirst import SyntheticSIRSTDataset  # noqa: E402

SPLIT_DIRS = dict(train='trainval', test='test')
FILE_PATTERN = re.compile(r'^synth_\d{6}\.png$')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write the synthetic SIRST dataset as PNGs in the '
        '<out-dir>/{trainval,test}/{images,masks} layout.')
    parser.add_argument(
        '--out-dir',
        default='data/synthetic-sirst',
        help='output root directory (default: %(default)s)')
    parser.add_argument(
        '--num-train',
        type=int,
        default=2000,
        help='number of training images (default: %(default)s)')
    parser.add_argument(
        '--num-test',
        type=int,
        default=200,
        help='number of test images (default: %(default)s)')
    parser.add_argument(
        '--size',
        type=int,
        nargs='+',
        default=[256],
        metavar='N',
        help='image size: one value for square images or H W '
        '(default: 256)')
    parser.add_argument(
        '--seed', type=int, default=0, help='base seed (default: 0)')
    args = parser.parse_args(argv)
    if len(args.size) not in (1, 2):
        parser.error(f'--size takes 1 or 2 values (N or H W), got '
                     f'{args.size}')
    if args.num_train < 0 or args.num_test < 0:
        parser.error('--num-train and --num-test must be >= 0')
    return args


def _write_if_changed(path: str, img: np.ndarray) -> bool:
    """Encode ``img`` as PNG; write only if the file differs.

    Returns:
        bool: Whether the file was (re)written.
    """
    ok, encoded = cv2.imencode('.png', img)
    if not ok:
        raise IOError(f'OpenCV could not encode a PNG for {path!r}')
    data = encoded.tobytes()
    if osp.isfile(path):
        with open(path, 'rb') as f:
            if f.read() == data:
                return False
    with open(path, 'wb') as f:
        f.write(data)
    return True


def write_split(out_dir: str, split: str, num_samples: int,
                size: Sequence[int], seed: int) -> dict:
    """Write one split; returns counts of written/unchanged/removed files."""
    split_root = osp.join(out_dir, SPLIT_DIRS[split])
    img_dir = osp.join(split_root, 'images')
    mask_dir = osp.join(split_root, 'masks')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(mask_dir, exist_ok=True)

    names = [f'synth_{i:06d}.png' for i in range(num_samples)]
    counts = dict(written=0, unchanged=0, removed=0, targets=0)
    if num_samples:
        dataset = SyntheticSIRSTDataset(
            num_samples=num_samples, img_size=size, seed=seed, split=split)
        for index, name in enumerate(
                track_iter_progress(names, file=sys.stderr)):
            sample = dataset.generate(index)
            img = np.round(sample['img'] * 255).astype(np.uint8)
            mask = sample['mask'].astype(np.uint8) * 255
            for directory, array in ((img_dir, img), (mask_dir, mask)):
                changed = _write_if_changed(osp.join(directory, name), array)
                counts['written' if changed else 'unchanged'] += 1
            counts['targets'] += sample['num_targets']

    # Files of an earlier, larger run would otherwise leak into this split.
    keep = set(names)
    for directory in (img_dir, mask_dir):
        for fname in os.listdir(directory):
            if FILE_PATTERN.match(fname) and fname not in keep:
                os.remove(osp.join(directory, fname))
                counts['removed'] += 1
    return counts


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    size = (args.size[0],
            args.size[0]) if len(args.size) == 1 else tuple(args.size)
    for split, num in (('train', args.num_train), ('test', args.num_test)):
        counts = write_split(args.out_dir, split, num, size, args.seed)
        split_root = osp.join(args.out_dir, SPLIT_DIRS[split])
        print(
            f'{split_root}: {num} images + masks of H x W = '
            f'{size[0]} x {size[1]} ({counts["targets"]} targets); '
            'files written '
            f'{counts["written"]}, unchanged {counts["unchanged"]}, stale '
            f'removed {counts["removed"]}')
    print(f"Done. Load it with dict(type='SIRSTAugDataset', "
          f'data_root={args.out_dir!r}) or '
          f"dict(type='ISTDDataset', data_root={args.out_dir!r}, "
          "layout='split_dirs').")


if __name__ == '__main__':
    main()
