"""Draw dataset samples after the training pipeline (images + masks).

    python tools/misc/browse_dataset.py CONFIG --output-dir DIR [--num 20]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cv2  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from dunseg.registry import DATASETS  # noqa: E402
from dunseg.utils import register_all_modules  # noqa: E402
from dunseg.visualization import DunSegVisualizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--output-dir', default='browse_dataset')
    parser.add_argument('--num', type=int, default=20)
    parser.add_argument('--split', choices=['train', 'val', 'test'],
                        default='train')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'dunseg'))
    dataset = DATASETS.build(cfg[f'{args.split}_dataloader'].dataset)
    visualizer = DunSegVisualizer.get_instance('browse_dataset')
    os.makedirs(args.output_dir, exist_ok=True)
    for i in range(min(args.num, len(dataset))):
        item = dataset[i]
        sample = item['data_samples']
        path = sample.metainfo.get('img_path')
        stem = osp.splitext(osp.basename(path))[0] if path else f'{i:06d}'
        canvas = visualizer.render(item['inputs'], sample)
        cv2.imwrite(osp.join(args.output_dir, f'{stem}.png'),
                    cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    print(f'wrote {min(args.num, len(dataset))} images to {args.output_dir}')


if __name__ == '__main__':
    main()
