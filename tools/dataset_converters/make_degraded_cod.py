"""Write degraded copies of COD test sets once, so every method is scored on
the same pixels.

For every ``<src-root>/<set>/<img-dir>/*`` image, NUN's degradation
(``CODDegrade``: lowlight / haze / lowres / combined at light / medium /
heavy) is applied with a generator seeded by (``--seed``, kind, level, the
image's file name), and written as PNG to
``<out-root>/<kind>-<level>/<set>/<img-dir>/<stem>.png``; the masks are
copied beside it (``<mask-dir>``), so ``CODDataset`` reads the result
like the clean set::

    python tools/dataset_converters/make_degraded_cod.py data/TestDataset \\
        data/TestDataset-degraded --kinds lowlight haze lowres combined \\
        --levels light medium heavy

    # then, e.g. in a config:
    # dict(type='CODDataset',
    #      data_root='data/TestDataset-degraded/haze-medium/CAMO', ...)

The same seed, kind, level and file name always give the same image, so
re-running the script (or generating only one set) reproduces it exactly.
A progress bar per set goes to stderr.
"""
import argparse
import os
import os.path as osp
import shutil
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from mmengine.utils import track_iter_progress  # noqa: E402

from dunseg.datasets.cod import IMG_EXTENSIONS, _stem_map  # noqa: E402
from dunseg.datasets.transforms.cod import (  # noqa: E402
    DEGRADATION_KINDS,
    DEGRADATION_LEVELS,
    CODDegrade,
    LoadCODImageFromFile,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('src_root', help='folder of test sets '
                        '(e.g. data/TestDataset)')
    parser.add_argument('out_root', help='output folder')
    parser.add_argument('--sets', nargs='+', help='set folders (default: '
                        'every folder of src_root with an image folder)')
    parser.add_argument('--kinds', nargs='+', default=['combined'],
                        choices=DEGRADATION_KINDS)
    parser.add_argument('--levels', nargs='+', default=['medium'],
                        choices=DEGRADATION_LEVELS)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--img-dir', default='Imgs')
    parser.add_argument('--mask-dir', default='GT')
    parser.add_argument('--no-masks', action='store_true',
                        help='do not copy the mask folders')
    return parser.parse_args(argv)


def find_sets(src_root, img_dir):
    if not osp.isdir(src_root):
        raise FileNotFoundError(f'source folder not found: {src_root!r}')
    sets = sorted(d for d in os.listdir(src_root)
                  if osp.isdir(osp.join(src_root, d, img_dir)))
    if not sets:
        raise FileNotFoundError(
            f'no <set>/{img_dir}/ folder in {src_root!r}; the expected '
            f'layout is {src_root}/<set>/{img_dir}/*.jpg (pass --img-dir or '
            '--sets)')
    return sets


def degrade_set(src, dst, kind, level, seed, img_dir, mask_dir,
                copy_masks=True) -> int:
    """Degrade one set folder; returns the number of images written."""
    src_imgs = osp.join(src, img_dir)
    if not osp.isdir(src_imgs):
        raise FileNotFoundError(f'image folder not found: {src_imgs!r}')
    images = _stem_map(src_imgs, IMG_EXTENSIONS)
    loader = LoadCODImageFromFile()
    degrade = CODDegrade(kind=kind, level=level, seed=seed)
    out_imgs = osp.join(dst, img_dir)
    os.makedirs(out_imgs, exist_ok=True)
    for stem, fname in track_iter_progress(
            (images.items(), len(images)), file=sys.stderr):
        results = loader(dict(img_path=osp.join(src_imgs, fname)))
        results = degrade(results)
        u8 = np.clip(np.round(results['img'] * 255), 0, 255).astype(np.uint8)
        cv2.imwrite(osp.join(out_imgs, stem + '.png'), u8[..., ::-1])
    if copy_masks:
        src_masks = osp.join(src, mask_dir)
        if not osp.isdir(src_masks):
            raise FileNotFoundError(
                f'mask folder not found: {src_masks!r} (pass --mask-dir or '
                '--no-masks)')
        shutil.copytree(src_masks, osp.join(dst, mask_dir),
                        dirs_exist_ok=True)
    return len(images)


def main(argv=None):
    args = parse_args(argv)
    sets = args.sets or find_sets(args.src_root, args.img_dir)
    for kind in args.kinds:
        for level in args.levels:
            for s in sets:
                dst = osp.join(args.out_root, f'{kind}-{level}', s)
                n = degrade_set(osp.join(args.src_root, s), dst, kind, level,
                                args.seed, args.img_dir, args.mask_dir,
                                not args.no_masks)
                print(f'{kind}-{level}/{s}: {n} images -> {dst}')


if __name__ == '__main__':
    main()
