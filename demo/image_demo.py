"""Run a dunseg model on one image and draw the result.

    python demo/image_demo.py IMG CONFIG CHECKPOINT [--out-file OUT.png]

For infrared small-target models the output shows input | mask overlay |
score map, and below it a grid of every stage's state (B, T, N, D for
RPCANet / RPCANet+). For restoration models (VLU-Net) it shows degraded |
restored side by side, the degradation the prior head recognised, and every
stage's output below. For NUN it shows the mask, the selected restoration,
every stage's mask, background and restoration, and every DeRUN iterate
with its quality score (the chosen one framed). ``demo/demo_ir.png`` is a synthetic infrared frame
and ``demo/demo_rain.png`` a rainy photograph, both made by
``demo/generate_demo_image.py``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402

from dunseg.apis import inference_model, init_model  # noqa: E402
from dunseg.engine import CheckpointMismatchError  # noqa: E402
from dunseg.utils import register_all_modules  # noqa: E402
from dunseg.visualization import DunSegVisualizer  # noqa: E402


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
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        run_demo(args)
    except (FileNotFoundError, ValueError, FloatingPointError,
            CheckpointMismatchError) as err:
        # the message names the file and the fix; a traceback adds nothing
        sys.exit(f'demo/image_demo.py: {err}')


def run_demo(args):
    register_all_modules()
    model = init_model(args.config, args.checkpoint, device=args.device)
    result = inference_model(
        model, args.img, return_stages=not args.no_stages)
    visualizer = DunSegVisualizer.get_instance('dunseg_demo')
    canvas = visualizer.render(
        result.input_image.data, result, draw_gt=False,
        draw_stages=not args.no_stages)
    out_dir = osp.dirname(osp.abspath(args.out_file))
    os.makedirs(out_dir, exist_ok=True)
    cv2.imwrite(args.out_file, cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if 'pred_mask' in result:
        mask = result.pred_mask.data[0].cpu().numpy()
        num, _ = cv2.connectedComponents(mask, connectivity=8)
        print(f'{args.img}: {num - 1} target region(s), '
              f'{int(mask.sum())} target pixel(s)')
    if 'selected_iterates' in result.metainfo:
        print(f'{args.img}: restoration chosen per stage (iterate index): '
              f'{[n + 1 for n in result.selected_iterates]}')
    if 'pred_image' in result:
        degradation = result.metainfo.get('pred_degradation')
        if degradation is not None:
            print(f'{args.img}: recognised degradation {degradation} '
                  f'(p = {float(result.pred_scores.max()):.2f})')
        else:
            print(f'{args.img}: restored (the model has no degradation '
                  'classifier)')
    print(f'drawing written to {osp.abspath(args.out_file)}')


if __name__ == '__main__':
    main()
