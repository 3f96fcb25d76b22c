"""Convert the official DA-CLIP checkpoint (``daclip_ViT-B-32.pt``) to
dunseg's ``DACLIPPrior``.

Usage::

    python tools/model_converters/daclip2dunseg.py daclip_ViT-B-32.pt out.pth
    python tools/model_converters/daclip2dunseg.py daclip_ViT-B-32.pt \
        out.pth --verify     # also build DACLIPPrior('ViT-B-32') and load
                             # the result with strict=True (~1 GB RAM)

Official layout (daclip-uir ``DaCLIP``; 631 tensors, 246,213,634
parameters): ``clip.*`` (open_clip ViT-B-32, frozen), ``visual.*`` (the same
vision tower saved a second time; checked equal and dropped),
``visual_control.*`` (the controller; its blocks under
``transformer.transformer.resblocks.*``, the zero-initialised linears under
``transformer.zero_modules.*``) and ``logit_scale``. See
:func:`dunseg.models.priors.convert_daclip_state_dict` for the key map.

The output's ``state_dict`` has the prior's keys (``clip.*``,
``controller.*``, ``zero_linears.*``, ``logit_scale``); pass the file as
``daclip_pretrained`` of ``DACLIPPrior`` (the official file works there
too, converted on the fly).
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
from dunseg.models.priors.daclip import convert_daclip_state_dict  # noqa

__all__ = ['convert_daclip_state_dict', 'convert_file']


def official_state_dict(ckpt) -> dict:
    """The tensor dict of an official file: ``ckpt['state_dict']`` (open_clip
    training checkpoints) or the file itself (a bare state dict)."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'expected a checkpoint dict, got {type(ckpt)}')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict):
        raise TypeError("ckpt['state_dict'] is not a dict")
    return state


def _step(bar, last=False):
    """Advance ``bar`` (if any) by one step; end its line after the last."""
    if bar is not None:
        bar.update()
        if last:
            bar.file.write('\n')


def convert_file(src: str, dst: str, shared_visual: str = 'check',
                 progress: bool = False) -> dict:
    """Read, convert and write one file; ``progress`` shows a bar over
    those three steps on stderr (reading the ~1 GB file dominates)."""
    bar = ProgressBar(3, file=sys.stderr) if progress else None
    official = official_state_dict(load_weights_only(src, map_location='cpu'))
    _step(bar)
    state_dict = convert_daclip_state_dict(official, shared_visual)
    _step(bar)
    save_converted_checkpoint(state_dict, src, dst)
    _step(bar, last=True)
    return state_dict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official daclip_ViT-B-32.pt')
    parser.add_argument('dst', help='output dunseg checkpoint')
    parser.add_argument(
        '--shared-visual', default='check', choices=('check', 'ignore'),
        help='check that visual.* equals clip.visual.* (default) or drop '
        'visual.* unchecked')
    parser.add_argument(
        '--clip-model', default='ViT-B-32',
        help='open_clip model of the checkpoint (for --verify)')
    parser.add_argument(
        '--verify', action='store_true',
        help='build DACLIPPrior(clip_model) and load the result strictly')
    args = parser.parse_args()
    state_dict = convert_file(args.src, args.dst, args.shared_visual,
                              progress=True)
    num = sum(v.numel() for v in state_dict.values())
    groups = sorted({key.split('.')[0] for key in state_dict})
    print(f'wrote {args.dst}: {len(state_dict)} tensors ({", ".join(groups)})'
          f', {num:,} parameters')
    if args.verify:
        from dunseg.models.priors import DACLIPPrior
        prior = DACLIPPrior(args.clip_model, prompts=())
        prior.load_state_dict(state_dict, strict=True)
        print(f'verified: DACLIPPrior({args.clip_model!r}) loads it with '
              'strict=True')


if __name__ == '__main__':
    main()
