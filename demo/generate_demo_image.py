"""Write the demo inputs: a synthetic infrared frame and a rainy photograph.

- ``demo/demo_ir.png`` (``--kind ir``): no infrared images ship with any
  installable package, so it is drawn by dunseg's own scene generator (the
  one behind ``SyntheticSIRSTDataset``): 256x256, 8-bit grey, with small
  targets and sky / sea / ground clutter. The ground-truth mask goes to
  ``demo_ir_mask.png``.
- ``demo/demo_rain.png`` (``--kind rain``): scikit-image's ``coffee``
  photograph (shipped in its wheel), centre-cropped to 256x256, with rain
  streaks from :func:`dunseg.physics.add_rain` (the model behind the
  embedded restoration data). The clean crop goes to ``demo_rain_clean.png``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

DEMO_DIR = osp.dirname(osp.abspath(__file__))


def write_ir(out: str, index: int, seed: int) -> None:
    from dunseg.datasets import SyntheticSIRSTDataset
    dataset = SyntheticSIRSTDataset(
        num_samples=index + 1, img_size=(256, 256), seed=seed,
        split='test', max_targets=3, target_free_ratio=0.0, pipeline=[])
    sample = dataset[index]
    image = np.round(sample['img'][..., 0] * 255).astype(np.uint8)
    cv2.imwrite(out, image)
    cv2.imwrite(out.replace('.png', '_mask.png'), sample['gt_seg_map'] * 255)
    print(f'wrote {out} ({sample["num_targets"]} targets, '
          f'{sample["scene_type"]} scene)')


def write_rain(out: str, seed: int) -> None:
    from skimage import data

    from dunseg.physics import add_rain
    photo = data.coffee()
    h, w = photo.shape[:2]
    top, left = (h - 256) // 2, (w - 256) // 2
    clean = photo[top:top + 256, left:left + 256].astype(np.float32) / 255
    rainy = add_rain(clean, np.random.default_rng(seed))
    for path, img in ((out, rainy),
                      (out.replace('.png', '_clean.png'), clean)):
        rgb = np.round(img * 255).astype(np.uint8)
        cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    print(f'wrote {out} and its clean crop')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--kind', choices=('ir', 'rain'), default='ir')
    parser.add_argument('--out', help='output file (default: '
                        'demo/demo_ir.png or demo/demo_rain.png)')
    parser.add_argument('--index', type=int, default=0)
    parser.add_argument('--seed', type=int, default=2024)
    args = parser.parse_args()
    out = args.out or osp.join(DEMO_DIR, f'demo_{args.kind}.png')
    if args.kind == 'ir':
        write_ir(out, args.index, args.seed)
    else:
        write_rain(out, args.seed)


if __name__ == '__main__':
    main()
