"""Write the demo input ``demo/demo_ir.png``: a synthetic infrared frame.

No infrared images ship with any installable package, so the demo input is
drawn by dunseg's own scene generator (the one behind
``SyntheticSIRSTDataset``): 256x256, 8-bit grey, with small targets and sky /
sea / ground clutter. The ground-truth mask goes to ``demo_ir_mask.png``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from dunseg.datasets import SyntheticSIRSTDataset  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=osp.join(osp.dirname(__file__),
                                                  'demo_ir.png'))
    parser.add_argument('--index', type=int, default=0)
    parser.add_argument('--seed', type=int, default=2024)
    args = parser.parse_args()
    dataset = SyntheticSIRSTDataset(
        num_samples=args.index + 1, img_size=(256, 256), seed=args.seed,
        split='test', max_targets=3, target_free_ratio=0.0, pipeline=[])
    sample = dataset[args.index]
    image = np.round(sample['img'][..., 0] * 255).astype(np.uint8)
    cv2.imwrite(args.out, image)
    cv2.imwrite(args.out.replace('.png', '_mask.png'),
                sample['gt_seg_map'] * 255)
    print(f'wrote {args.out} ({sample["num_targets"]} targets, '
          f'{sample["scene_type"]} scene)')


if __name__ == '__main__':
    main()
