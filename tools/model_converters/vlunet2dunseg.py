"""Convert official VLU-Net checkpoints (xianggkl/VLU-Net) to dunseg.

Usage::

    python tools/model_converters/vlunet2dunseg.py SRC.ckpt DST.pth

``SRC`` is a released lightning checkpoint (``ckpt['state_dict']`` with
``net.*`` = ``VLUNet`` and ``model_degradation.*`` = the CLIP branch) or a
plain ``VLUNet`` state dict; it is read with ``weights_only=True``. dunseg's
:class:`~dunseg.models.unfolding.VLUNet` uses the official module names, so
backbone keys only lose ``net.`` (and a DDP ``module.``) and gain
``backbone.``; the CLIP branch is converted by
``tools/model_converters/vlunet_clip2dunseg.py`` and stored under
``prior.``. The result (``state_dict`` + ``meta.converted_from``) loads with
``strict=True`` into a ``Restorer`` whose backbone is ``VLUNet(de_dim=7)``
(5-task) or ``VLUNet(de_dim=5)`` (3-task / single-task) as the
``*_200e_allinone-*`` configs build it: the official network, including
its reuse of x's downsampler for the y stream
(``separate_y_downsampler=False``, the default; see the ``VLUNet``
docstring).
"""
import argparse
import importlib.util
import os.path as osp
import re
import sys
from collections import OrderedDict

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.utils import track_iter_progress  # noqa: E402

from dunseg.engine.checkpoint import (  # noqa: E402
    load_weights_only,
    save_converted_checkpoint,
)

_STAGE = (r'(?:encoder_level[123]|latent|decoder_level[123]|refinement)')
_CONV = r'(?:weight|bias)'
_BACKBONE_KEY = re.compile(
    r'^(?:'
    rf'patch_embed(?:_i)?\.proj\.{_CONV}'
    rf'|(?:down1_2|down2_3|down3_4|up4_3|up3_2|up2_1)(?:_i)?\.body\.0\.{_CONV}'
    rf'|reduce_chan_level[23](?:_img)?\.{_CONV}'
    rf'|output\.{_CONV}'
    rf'|{_STAGE}\.gradient_descent\.(?:r|prompt_param'
    rf'|phi\.(?:temperature|(?:qv|qv_dwconv|k|k_dwconv|project_out)\.{_CONV})'
    rf'|phit\.(?:temperature|(?:qkv|qkv_dwconv|project_out)\.{_CONV})'
    r'|linear\.(?:weight|bias))'
    rf'|{_STAGE}\.denoiser\.blocks\.\d+\.(?:norm[12]\.body\.(?:weight|bias)'
    rf'|attn\.(?:temperature|(?:qkv|qkv_dwconv|project_out)\.{_CONV})'
    rf'|ffn\.(?:project_in|dwconv|project_out)\.{_CONV})'
    r')$')
_PREFIX = re.compile(r'^(?:module\.)?(?:net\.)?')
_CLIP_PREFIX = re.compile(r'^(?:module\.)?model_degradation\.')


def _clip_converter():
    """``convert_vlunet_clip_state_dict`` of the sibling converter script."""
    path = osp.join(osp.dirname(osp.abspath(__file__)),
                    'vlunet_clip2dunseg.py')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} is missing; it converts the model_degradation.* (CLIP) '
            'keys of a VLU-Net lightning checkpoint')
    spec = importlib.util.spec_from_file_location('vlunet_clip2dunseg', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convert_vlunet_clip_state_dict


def convert_vlunet_state_dict(official: dict,
                              prefix: str = 'backbone.',
                              prior_prefix: str = 'prior.',
                              progress: bool = False) -> OrderedDict:
    """Rename an official VLU-Net state dict to dunseg keys.

    Args:
        official (dict): ``VLUNet`` keys, optionally under ``net.`` (the
            lightning module) and/or ``module.``; may also hold the CLIP
            branch under ``model_degradation.``.
        prefix (str): Prefix of the backbone keys ('backbone.' for a
            ``Restorer``, '' for a bare ``VLUNet``).
        prior_prefix (str): Prefix of the converted CLIP keys.
        progress (bool): Show a bar over the official keys on stderr.

    Returns:
        OrderedDict: backbone keys first, in the official order, then the
        prior's.

    Raises:
        ValueError: keys outside the official layout (all of them named).
    """
    converted = OrderedDict()
    clip_keys = OrderedDict()
    unknown = []
    items = official.items()
    if progress:
        items = track_iter_progress((items, len(official)), file=sys.stderr)
    for key, value in items:
        if _CLIP_PREFIX.match(key):
            clip_keys[key] = value
            continue
        name = _PREFIX.sub('', key, count=1)
        if _BACKBONE_KEY.match(name) is None:
            unknown.append(key)
            continue
        converted[prefix + name] = value
    if unknown:
        raise ValueError(
            f'{len(unknown)} key(s) are not part of the official VLU-Net '
            f'layout: {unknown}; expected [net.]<VLUNet key> (e.g. '
            'net.encoder_level1.gradient_descent.prompt_param) or '
            'model_degradation.* (CLIP branch)')
    if clip_keys:
        convert_clip = _clip_converter()
        for key, value in convert_clip(clip_keys).items():
            converted[prior_prefix + key] = value
    return converted


def convert_file(src: str, dst: str, prefix: str = 'backbone.',
                 progress: bool = False) -> OrderedDict:
    ckpt = load_weights_only(src, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise TypeError(f'{src}: expected a checkpoint dict, got {type(ckpt)}')
    official = ckpt['state_dict'] if isinstance(ckpt.get('state_dict'),
                                                dict) else ckpt
    state_dict = convert_vlunet_state_dict(official, prefix=prefix,
                                           progress=progress)
    save_converted_checkpoint(state_dict, src, dst)
    return state_dict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official VLU-Net .ckpt / state dict')
    parser.add_argument('dst', help='output dunseg checkpoint')
    parser.add_argument(
        '--prefix', default='backbone.',
        help="prefix of the backbone keys ('backbone.' for a Restorer, '' "
        'for a bare VLUNet)')
    args = parser.parse_args()
    state_dict = convert_file(args.src, args.dst, args.prefix, progress=True)
    prior = sum(v.numel() for k, v in state_dict.items()
                if k.startswith('prior.'))
    backbone = sum(v.numel() for v in state_dict.values()) - prior
    print(f'wrote {args.dst}: {len(state_dict)} tensors, backbone '
          f'{backbone:,} parameters, prior {prior:,} values')


if __name__ == '__main__':
    main()
