"""Export the 2-D slices of a medical volume dataset as slice files.

Shuffled training over large volumes (BraTS: 155 slices of 240x240x4
sequences per gzip file) reads a whole volume for every slice it draws. This
writes each selected slice once, already normalised, in the layout of
``MedicalSliceFolderDataset``::

    <out-dir>/<dataset_name>/images/<case>_s<slice>.npy   float32 in [0, 1]
    <out-dir>/<dataset_name>/masks/<case>_s<slice>.png    uint8 class indices
    <out-dir>/<dataset_name>/dataset.json                 modality, classes

from the ``--split`` dataloader of a config (its dataset or every dataset of
a ``ConcatDataset``, with their selection: ``ann_file``, ``foreground_only``,
``slice_step``; the pipeline is not applied, so slices keep their size and
are not undersampled)::

    python tools/dataset_converters/medical_volumes_to_slices.py \\
        configs/_base_/datasets/brats2021.py data/slices --split train

and prints the dataset config that reads them back. The slice files' ids
(``<dataset>/<case>_s<slice>``) differ from the volumes' ids, so fixed test
masks (``KSpaceUndersample(seed=...)``) differ too, though they stay fixed.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from mmengine.utils import track_iter_progress  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config with a medical dataset')
    parser.add_argument('out_dir', help='root of the slice folders')
    parser.add_argument('--split', choices=('train', 'val', 'test'),
                        default='train',
                        help='which <split>_dataloader to export')
    parser.add_argument('--data-root', help='replace each dataset\'s '
                        'data_root prefix "data" by this directory')
    return parser.parse_args(argv)


def dataset_configs(cfg, split: str, data_root=None) -> list:
    key = f'{split}_dataloader'
    if key not in cfg:
        raise KeyError(f'the config has no {key}')
    dataset = cfg[key]['dataset']
    subs = (dataset['datasets']
            if dataset['type'] == 'ConcatDataset' else [dataset])
    out = []
    for sub in subs:
        sub = dict(sub, pipeline=[])
        if data_root:
            sub['data_root'] = sub['data_root'].replace('data', data_root, 1)
        out.append(sub)
    return out


def export(dataset, out_dir: str) -> dict:
    """Write every slice of ``dataset``; return the reading config."""
    root = osp.join(out_dir, dataset.dataset_name)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'masks'), exist_ok=True)
    for idx in track_iter_progress(range(len(dataset)), file=sys.stderr):
        info = dataset.get_data_info(idx)
        stem = f'{info["case_id"]}_s{info["slice_index"]:04d}'
        np.save(osp.join(root, 'images', stem + '.npy'),
                np.ascontiguousarray(info['gt_img'], np.float32))
        cv2.imwrite(osp.join(root, 'masks', stem + '.png'),
                    np.ascontiguousarray(info['gt_seg_map'], np.uint8))
    reader = dict(type='MedicalSliceFolderDataset', data_root=root,
                  modality=dataset.modality,
                  dataset_name=dataset.dataset_name,
                  classes=list(dataset.class_names))
    with open(osp.join(root, 'dataset.json'), 'w') as f:
        json.dump(dict(reader, num_slices=len(dataset)), f, indent=2)
    return reader


def main(argv=None):
    from mmengine.config import Config

    from dunseg.registry import DATASETS
    from dunseg.utils import register_all_modules
    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    readers = []
    for sub in dataset_configs(cfg, args.split, args.data_root):
        dataset = DATASETS.build(sub)
        reader = export(dataset, args.out_dir)
        print(f'{dataset.dataset_name}: {len(dataset)} slices -> '
              f'{reader["data_root"]}')
        readers.append(reader)
    print('read them with:')
    for reader in readers:
        print(f'  dict({", ".join(f"{k}={v!r}" for k, v in reader.items())})')
    return readers


if __name__ == '__main__':
    main()
