"""Run a dunseg model on one image and draw the result.

    python demo/image_demo.py IMG CONFIG CHECKPOINT [--out-file OUT.png]

For infrared small-target models the output shows input | mask overlay |
score map, and below it a grid of every stage's state (B, T, N, D for
RPCANet / RPCANet+). For restoration models (VLU-Net) it shows degraded |
restored side by side, the degradation the prior head recognised, and every
stage's output below. For NUN it shows the mask, the selected restoration,
every stage's mask, background and restoration, and every DeRUN iterate
with its quality score (the chosen one framed). For joint medical
restoration + segmentation (VL-DUN) it shows the undersampled slice |
restoration | segmentation overlay (one colour per class), the recognised
modality and degradation with their probabilities (also printed) and a
class legend, and every stage's image below.

``demo/demo_ir.png`` is a synthetic infrared frame and
``demo/demo_rain.png`` a rainy photograph; ``demo/demo_ct_undersampled.png``
and ``demo/demo_mri_undersampled.png`` are real slices after VL-DUN's k-space
undersampling; all made by ``demo/generate_demo_image.py``. Medical models
also read ``.npy``, DICOM (``.dcm``, windowed by its Modality tag) and NIfTI
(``--slice``) files; the input is taken as already degraded (the test
pipeline's synthetic degradation, e.g. ``KSpaceUndersample``, is not run).
VL-DUN with the known operator (``physical_operator=True``) needs the
input's sampling mask: ``--kspace-mask MASK.npy``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from dunseg.apis import inference_model, init_model  # noqa: E402
from dunseg.engine import CheckpointMismatchError  # noqa: E402
from dunseg.utils import register_all_modules  # noqa: E402
from dunseg.visualization import DunSegVisualizer, recognised_lines  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-file', default='demo_result.png', help='where to write the '
        'drawing (PNG)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:0')
    parser.add_argument(
        '--no-stages', action='store_true', help='skip the stage grid')
    parser.add_argument(
        '--kspace-mask', help='medical models with the known k-space '
        'operator: the centred sampling mask the input was undersampled '
        'with (.npy or image, nonzero = sampled)')
    parser.add_argument(
        '--slice', type=int, help='slice of a volume file (NIfTI, '
        'multi-frame DICOM, 3-D .npy); default the middle one')
    parser.add_argument(
        '--bit-depth', type=int, help='bit depth of the image data, e.g. 12 '
        'for 12-bit sensor data stored in a 16-bit PNG (divides by 4095); '
        "default: the full range of the file's dtype (65535 for 16-bit)")
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        run_demo(args)
    except (OSError, ValueError, FloatingPointError,
            CheckpointMismatchError) as err:
        # the message names the file and the fix; a traceback adds nothing
        # (OSError: missing, empty, truncated or non-image files)
        sys.exit(f'demo/image_demo.py: {err}')


def run_demo(args):
    register_all_modules()
    model = init_model(args.config, args.checkpoint, device=args.device)
    result = inference_model(
        model, args.img, return_stages=not args.no_stages,
        kspace_mask=args.kspace_mask, slice_index=args.slice,
        bit_depth=getattr(args, 'bit_depth', None))
    visualizer = DunSegVisualizer.get_instance('dunseg_demo')
    if getattr(model, 'dataset_meta', None):
        visualizer.dataset_meta = model.dataset_meta
    canvas = visualizer.render(
        result.input_image.data, result, draw_gt=False,
        draw_stages=not args.no_stages)
    out_dir = osp.dirname(osp.abspath(args.out_file))
    os.makedirs(out_dir, exist_ok=True)
    cv2.imwrite(args.out_file, cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    for line in summary_lines(result, getattr(model, 'dataset_meta', None)):
        print(f'{args.img}: {line}')
    print(f'drawing written to {osp.abspath(args.out_file)}')


def summary_lines(result, dataset_meta=None):
    """What the drawing shows, as text lines."""
    lines = []
    multi_class = 'pred_score' in result and \
        result.pred_score.data.shape[0] > 1
    if 'pred_mask' in result and multi_class:
        mask = result.pred_mask.data[0].cpu().numpy()
        names = (dataset_meta or {}).get('classes') or ()
        labels, counts = np.unique(mask, return_counts=True)
        parts = [
            f'{names[k] if k < len(names) else f"class {k}"} {n} px'
            for k, n in zip(labels.tolist(), counts.tolist()) if k != 0
        ]
        lines.append('segmentation: ' +
                     (', '.join(parts) if parts else 'background only'))
    elif 'pred_mask' in result:
        mask = result.pred_mask.data[0].cpu().numpy().astype(np.uint8)
        num, _ = cv2.connectedComponents(mask, connectivity=8)
        lines.append(f'{num - 1} target region(s), '
                     f'{int(mask.sum())} target pixel(s)')
    if 'selected_iterates' in result.metainfo:
        lines.append('restoration chosen per stage (iterate index): '
                     f'{[n + 1 for n in result.selected_iterates]}')
    recognised = recognised_lines(result)
    lines.extend(f'recognised {line}' for line in recognised)
    if 'pred_image' in result and not recognised:
        lines.append('restored (the model has no degradation classifier)')
    return lines


if __name__ == '__main__':
    main()
