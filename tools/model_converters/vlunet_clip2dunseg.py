"""Convert VLU-Net's CLIP branch (``clip_tuned.pth`` or a full lightning
checkpoint) to dunseg's ``CLIPDegradationPrior``.

Usage::

    python tools/model_converters/vlunet_clip2dunseg.py clip_tuned.pth out.pth
    python tools/model_converters/vlunet_clip2dunseg.py \
        5task_vlunet.ckpt out.pth

Official layouts:

- ``clip_tuned.pth``: ``ckpt['learnable_params']`` holds the two adapters,
  ``ad_imageEncoder.adapter.{0,1,3,4,6,7}.*`` and
  ``ad_textEncoder.adapter.*`` (3 x Linear(512, 512) + LayerNorm each).
- lightning checkpoint: ``ckpt['state_dict']`` holds ``net.*`` (the VLU-Net
  backbone, skipped here) and ``model_degradation.*``: the adapters plus the
  open_clip ViT-B-32 saved twice (``ad_imageEncoder.clip_model.*`` and
  ``ad_textEncoder.clip_model.*``, one shared module). The two copies are
  checked to be identical and stored once as ``clip.*``.

The output's ``state_dict`` has the head's keys without a ``prior.`` prefix
(``image_adapter.*``, ``text_adapter.*`` and, for a lightning checkpoint,
``clip.*``); pass the file as ``adapter_pretrained`` of
``CLIPDegradationPrior`` (or load it into the head with ``strict=True`` when
it holds the CLIP too).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.utils import ProgressBar  # noqa: E402

from dunseg.engine.checkpoint import (  # noqa: E402
    load_weights_only,
    save_converted_checkpoint,
)
from dunseg.models.priors.clip_degradation_prior import (  # noqa: E402
    convert_vlunet_clip_state_dict,
    official_clip_state_dict,
)

__all__ = ['convert_vlunet_clip_state_dict', 'convert_file']


def _step(bar, last=False):
    """Advance ``bar`` (if any) by one step; end its line after the last."""
    if bar is not None:
        bar.update()
        if last:
            bar.file.write('\n')


def convert_file(src: str, dst: str, clip_source: str = 'check',
                 progress: bool = False):
    """Read, convert and write one file; ``progress`` shows a bar over
    those three steps on stderr."""
    bar = ProgressBar(3, file=sys.stderr) if progress else None
    official = official_clip_state_dict(
        load_weights_only(src, map_location='cpu'))
    _step(bar)
    state_dict = convert_vlunet_clip_state_dict(
        official, clip_source=clip_source)
    _step(bar)
    save_converted_checkpoint(state_dict, src, dst)
    _step(bar, last=True)
    return state_dict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='clip_tuned.pth or a VLU-Net .ckpt')
    parser.add_argument('dst', help='output dunseg checkpoint')
    parser.add_argument(
        '--clip-source', default='check', choices=('check', 'image'),
        help='check that the two stored CLIP copies are identical (default) '
        'or take the image-encoder copy')
    args = parser.parse_args()
    state_dict = convert_file(args.src, args.dst, args.clip_source,
                              progress=True)
    groups = sorted({key.split('.')[0] for key in state_dict})
    num = sum(v.numel() for v in state_dict.values())
    print(f'wrote {args.dst}: {len(state_dict)} tensors ({", ".join(groups)})'
          f', {num:,} values')


if __name__ == '__main__':
    main()
