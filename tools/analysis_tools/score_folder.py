"""Score a model on a folder of your own images.

    python tools/analysis_tools/score_folder.py CONFIG CHECKPOINT \\
        --degraded DIR [--clean DIR] [--masks DIR] [--out-dir DIR] [--grid]

Every image of ``--degraded`` goes through the model as
``demo/image_demo.py`` runs it (the config's test pipeline: its resize or
crop, else the native size); scores are taken at the image's native size.
References are matched by file stem (``cat.jpg`` <-> ``cat.png``):

- ``--clean``: clean images of the same size. Restorers (VLU-Net, NUN,
  VL-DUN) get PSNR / SSIM of their output and of the degraded input itself,
  per image and mean, and the count of outputs worse than their input.
- ``--masks``: object masks of the same size, 0 / 255 (or 0 / 1) PNGs; class
  indices for VL-DUN. Segmentors (RUN, NUN, RPCANet) get the COD metrics
  (Sα, Fβʷ, MAE, E- and F-measures) beside two training-free maps: a
  centred Gaussian and an all-zero map. VL-DUN gets Dice / IoU per class.

Without them the outputs are still saved and what needs no reference is
printed. ``--out-dir`` receives ``scores.json``, ``restored/<stem>.png``,
``masks/<stem>.png`` (score maps as the COD test scripts save them, or
class indices) and, with ``--grid``, ``grids/<stem>.png``: the input,
outputs and every unfolding stage (the demo's drawing).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

from dunseg.apis.score_folder import (  # noqa: E402
    format_report,
    load_model,
    score_folder,
)
from dunseg.engine import (  # noqa: E402
    CheckpointMismatchError,
    MissingCheckpointError,
)
from dunseg.utils import register_all_modules  # noqa: E402

TOOL = 'tools/analysis_tools/score_folder.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint', nargs='?', default=None,
        help='checkpoint file; omit only with --random-weights')
    parser.add_argument('--degraded', required=True,
                        help='folder of the images given to the model')
    parser.add_argument('--clean', help='folder of clean references '
                        '(matched by file stem, same sizes)')
    parser.add_argument('--masks', help='folder of object masks (matched '
                        'by file stem, same sizes; binary, or class indices '
                        'for multi-class models)')
    parser.add_argument('--out-dir', default='work_dirs/score_folder',
                        help='where scores.json and the outputs go '
                        '(default: %(default)s)')
    parser.add_argument('--grid', action='store_true',
                        help='draw every image\'s unfolding stages as '
                        'grids/<stem>.png')
    parser.add_argument('--no-save', action='store_true',
                        help='do not save restored images / score maps')
    parser.add_argument(
        '--random-weights', action='store_true',
        help='score a learned model without a checkpoint, on purpose (the '
        'JSON says so); without it a missing checkpoint is an error')
    parser.add_argument(
        '--model-size', type=int, nargs=2, metavar=('H', 'W'),
        help='resize every image to H x W before the config\'s test '
        'pipeline, e.g. 64 64 for the tiny embedded models, whose configs '
        'have no resize (default: as demo/image_demo.py, the config\'s '
        'own test scale); scores stay at the native size')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:0')
    parser.add_argument(
        '--kspace-mask', help='VL-DUN with the known operator: the centred '
        'k-space sampling mask of every input (.npy or image)')
    parser.add_argument('--slice', type=int, help='slice of volume files '
                        '(NIfTI, multi-frame DICOM, 3-D .npy)')
    parser.add_argument('--bit-depth', type=int, help='bit depth of 16-bit '
                        'files holding fewer bits, e.g. 12')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except (OSError, ValueError, KeyError, FloatingPointError,
            CheckpointMismatchError, MissingCheckpointError) as err:
        # the message names the file or folder and the fix
        message = err.args[0] if isinstance(err, KeyError) and err.args \
            else err
        sys.exit(f'{TOOL}: {message}')


def run(args):
    register_all_modules()
    model = load_model(args.config, args.checkpoint, args.random_weights,
                       args.device, args.cfg_options)
    results = score_folder(
        model, args.degraded, clean_dir=args.clean, masks_dir=args.masks,
        out_dir=args.out_dir, grid=args.grid, save_outputs=not args.no_save,
        kspace_mask=args.kspace_mask, bit_depth=args.bit_depth,
        slice_index=args.slice, model_size=args.model_size)
    print(format_report(results))
    out = osp.join(osp.abspath(args.out_dir), 'scores.json')
    print(f'scores written to {out}')
    return results


if __name__ == '__main__':
    main()
