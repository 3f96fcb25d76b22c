"""Convert official RPCANet / L-RPCANet (RPCANet+) checkpoints to dunseg.

Usage::

    python tools/model_converters/rpcanet2dunseg.py SRC.pkl DST.pth

The official files are plain state dicts with keys
``decos.{stage}.{lowrank|sparse|residual|merge}.…``. The result loads with
``strict=True`` into the config named in ``configs/rpcanet/README.md``
(``load_from=DST.pth``) and carries ``meta.converted_from``.
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict, defaultdict

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.utils import track_iter_progress  # noqa: E402

from dunseg.engine.checkpoint import save_converted_checkpoint  # noqa: E402

MODULE_NAMES = dict(
    lowrank='background', sparse='target', residual='noise', merge='merge')
STEP_NAMES = dict(epsilon='epsilon', sigma='sigma')
_KEY = re.compile(r'^(?:module\.)?decos\.(\d+)\.'
                  r'(lowrank|sparse|residual|merge)'
                  r'\.(.+)$')
_SEQ = re.compile(r'^(convs|mapping)\.(\d+)\.(.+)$')


def convert_rpcanet_state_dict(official: dict,
                               prefix: str = 'backbone.',
                               progress: bool = False) -> OrderedDict:
    """Rename an official state dict to dunseg's ``UnfoldingSegmentor`` keys.

    In the official modules the operator's last 1-channel conv is either a
    separate ``final_conv`` (RPCANet+) or the last entry of the ``convs`` /
    ``mapping`` sequence (RPCANet); dunseg calls it ``operator.head`` in both.
    ``progress`` shows a bar over the official keys on stderr.

    Raises:
        KeyError: a key that is not part of the official layout.
    """
    parsed = []
    last_index = defaultdict(int)
    has_final_conv = set()
    items = official.items()
    if progress:
        items = track_iter_progress((items, len(official)), file=sys.stderr)
    for key, value in items:
        match = _KEY.match(key)
        if match is None:
            raise KeyError(
                f'unexpected key "{key}": not an official RPCANet/L-RPCANet '
                'checkpoint (keys look like decos.0.lowrank.convs.0.weight)')
        stage, module, rest = match.groups()
        parsed.append((stage, module, rest, value))
        seq = _SEQ.match(rest)
        if seq:
            index = int(seq.group(2))
            last_index[stage, module] = max(last_index[stage, module], index)
        if rest.startswith('final_conv.'):
            has_final_conv.add((stage, module))

    converted = OrderedDict()
    for stage, module, rest, value in parsed:
        base = f'{prefix}stages.{stage}.{MODULE_NAMES[module]}.'
        seq = _SEQ.match(rest)
        if rest in STEP_NAMES:
            new = base + STEP_NAMES[rest]
        elif seq:
            _, index, tail = seq.groups()
            is_head = ((stage, module) not in has_final_conv
                       and int(index) == last_index[stage, module])
            new = base + (f'operator.head.{tail}' if is_head else
                          f'operator.body.{index}.{tail}')
        elif rest.startswith('channel_attention.'):
            new = base + 'operator.se.' + rest[len('channel_attention.'):]
        elif rest.startswith('final_conv.'):
            new = base + 'operator.head.' + rest[len('final_conv.'):]
        else:
            raise KeyError(f'unexpected key "decos.{stage}.{module}.{rest}"')
        converted[new] = value
    return converted


def convert_file(src: str, dst: str, progress: bool = False) -> OrderedDict:
    official = torch.load(src, map_location='cpu', weights_only=True)
    if isinstance(official, dict) and 'state_dict' in official:
        official = official['state_dict']
    state_dict = convert_rpcanet_state_dict(official, progress=progress)
    save_converted_checkpoint(state_dict, src, dst)
    return state_dict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official checkpoint (.pkl/.pth)')
    parser.add_argument('dst', help='output dunseg checkpoint')
    args = parser.parse_args()
    state_dict = convert_file(args.src, args.dst, progress=True)
    num_params = sum(v.numel() for k, v in state_dict.items()
                     if 'running_' not in k and 'num_batches' not in k)
    print(f'wrote {args.dst}: {len(state_dict)} tensors, '
          f'{num_params:,} parameters')


if __name__ == '__main__':
    main()
