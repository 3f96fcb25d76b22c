"""Draw the embedded medical phantoms and score the zero-filled inputs.

Builds the test split of ``configs/_base_/datasets/synthetic_phantom.py``
(or ``--config``) and

- writes a grid (``--out``, default ``docs/images/synthetic_phantom_
  samples.png``): one row per sample, columns clean slice, undersampled
  (zero-filled) input, label map (background black, organ green, wall
  blue, lesion red) and the k-space mask (DC at the centre);
- with ``--score N``, scores the zero-filled input of the first N test
  slices against the clean ones with ``MedicalSegMetric`` (PSNR / SSIM
  per dataset, i.e. per modality): the baseline a restorer must beat.

    python tools/experiments/phantom_samples.py --rows 6 --score 200
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PALETTE = np.array([[0, 0, 0], [0, 200, 0], [255, 120, 60], [60, 60, 255]],
                   np.uint8)  # BGR: background, organ, wall (blue), lesion


def build_test_set(config: str, num_samples: int, img_size: int):
    from mmengine.config import Config

    from dunseg.registry import DATASETS
    from dunseg.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(num_samples=num_samples)
    if img_size:
        dataset_cfg.update(img_size=img_size)
    return DATASETS.build(dataset_cfg)


def grey(img: np.ndarray) -> np.ndarray:
    img = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def draw_grid(dataset, rows: int, out: str) -> None:
    tiles = []
    for i in range(rows):
        packed = dataset[i]
        sample = packed['data_samples']
        clean = sample.gt_image.data[0].numpy()
        labels = sample.gt_mask.data[0].numpy()
        mask = sample.kspace_mask.data[0].numpy()
        row = [grey(clean), grey(packed['inputs'][0].numpy()),
               PALETTE[labels], grey(mask)]
        row = np.concatenate(row, 1)
        text = f'{sample.modality} {sample.kspace_pattern}'
        cv2.putText(row, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(row)
    cv2.imwrite(out, np.concatenate(tiles, 0))
    print(f'wrote {out}: {rows} rows of clean | undersampled | labels | '
          'k-space mask')


def score_zero_filled(dataset, count: int) -> dict:
    from mmengine.evaluator import Evaluator
    from mmengine.structures import PixelData

    from dunseg.evaluation.metrics import MedicalSegMetric
    evaluator = Evaluator(MedicalSegMetric())
    for i in range(count):
        packed = dataset[i]
        sample = packed['data_samples']
        # the identity "restorer": the zero-filled input itself
        sample.pred_image = PixelData(data=packed['inputs'].clone())
        evaluator.process([sample])
    return evaluator.evaluate(count)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=osp.join(
        ROOT, 'configs/_base_/datasets/synthetic_phantom.py'))
    parser.add_argument('--rows', type=int, default=6)
    parser.add_argument('--img-size', type=int, default=0,
                        help='override the config\'s slice size')
    parser.add_argument('--score', type=int, default=0,
                        help='score the zero-filled input of this many test '
                        'slices')
    parser.add_argument('--out', default=osp.join(
        ROOT, 'docs/images/synthetic_phantom_samples.png'))
    args = parser.parse_args()
    dataset = build_test_set(args.config, max(args.rows, args.score, 1),
                             args.img_size)
    if args.rows:
        draw_grid(dataset, args.rows, args.out)
    if args.score:
        metrics = score_zero_filled(dataset, args.score)
        for key, value in metrics.items():
            print(f'{key}: {value}')


if __name__ == '__main__':
    main()
