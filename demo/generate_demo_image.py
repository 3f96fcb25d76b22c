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
- ``demo/demo_ct.png`` (``--kind ct``) and ``demo/demo_mri.png``
  (``--kind mri``): real slices shipped inside installed packages
  (pydicom's ``CT_small.dcm``, 128x128, HU window (40, 400); matplotlib's
  ``s1045.ima.gz`` MRI, 256x256, percentile scaled; see
  :func:`dunseg.datasets.packaged_sample_slices`), with their k-space
  undersampled versions (VL-DUN's degradation, ``KSpaceUndersample``:
  radial 4x for CT, Cartesian 4x for MRI, fixed seed) in
  ``demo_ct_undersampled.png`` / ``demo_mri_undersampled.png`` and their
  centred sampling masks (255 = sampled) in ``demo_ct_kspace_mask.png`` /
  ``demo_mri_kspace_mask.png`` (``image_demo.py --kspace-mask`` for
  VL-DUN's known-operator variant).
- ``demo/demo_cod_lowlight.png`` (``--kind cod``): a concealed-object scene
  of ``SyntheticCODDataset``'s test split (128x128) under its medium low-light
  degradation, NUN's setting; the clean scene and the object mask go to
  ``demo_cod_lowlight_clean.png`` and ``demo_cod_lowlight_mask.png``.
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


def write_medical(out: str, kind: str, seed: int) -> None:
    from dunseg.datasets import packaged_sample_slices
    from dunseg.datasets.transforms import KSpaceUndersample
    name = dict(ct='ct_small', mri='s1045')[kind]
    item = packaged_sample_slices()[name]
    results = KSpaceUndersample(acceleration=4.0, seed=seed)(dict(
        gt_img=item['image'], modality=item['modality'],
        img_id=f'demo/{name}'))
    for path, img in ((out, results['gt_img']),
                      (out.replace('.png', '_undersampled.png'),
                       results['img']),
                      (out.replace('.png', '_kspace_mask.png'),
                       results['kspace_mask'])):
        cv2.imwrite(path, np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
    print(f'wrote {out} ({item["source"]}), its '
          f'{results["kspace_pattern"]} undersampled version '
          f'({results["kspace_acceleration"]:.1f}x) and the centred k-space '
          'mask (for --kspace-mask)')


def write_cod(out: str, index: int, seed: int) -> None:
    from dunseg.datasets import SyntheticCODDataset
    degraded = SyntheticCODDataset(
        num_samples=index + 1, img_size=(128, 128), seed=seed, split='test',
        degradation=dict(kind='lowlight', level='medium'), pipeline=[])
    sample = degraded[index]
    for path, img in ((out, sample['img']),
                      (out.replace('.png', '_clean.png'), sample['gt_img'])):
        rgb = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
        cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(out.replace('.png', '_mask.png'),
                (sample['gt_seg_map'] > 0).astype(np.uint8) * 255)
    print(f'wrote {out}, its clean scene and the object mask')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--kind', choices=('ir', 'rain', 'ct', 'mri', 'cod'),
                        default='ir')
    parser.add_argument('--out', help='output file (default: '
                        'demo/demo_<kind>.png)')
    parser.add_argument('--index', type=int, default=0)
    parser.add_argument('--seed', type=int, default=2024)
    args = parser.parse_args()
    name = 'cod_lowlight' if args.kind == 'cod' else args.kind
    out = args.out or osp.join(DEMO_DIR, f'demo_{name}.png')
    if args.kind == 'ir':
        write_ir(out, args.index, args.seed)
    elif args.kind == 'rain':
        write_rain(out, args.seed)
    elif args.kind == 'cod':
        write_cod(out, args.index, args.seed)
    else:
        write_medical(out, args.kind, args.seed)


if __name__ == '__main__':
    main()
