"""Strip a checkpoint to its weights for release or for safe loading.

    python tools/misc/publish_model.py IN.pth OUT.pth [--trust]

Keeps ``state_dict`` (and the parts of ``meta`` that are plain values),
drops optimizer / scheduler / message-hub state and appends the first 8 hex
digits of the SHA-256 to the file name, mmseg style (``OUT-1a2b3c4d.pth``).
Without ``--trust`` the input is read with ``weights_only=True``; ``--trust``
unpickles arbitrary objects (needed for checkpoints of plain MMEngine or other
frameworks) — use it only for files whose origin you trust.
"""
import argparse
import hashlib
import os
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from dunseg.engine.checkpoint import atomic_torch_save  # noqa: E402

PLAIN = (str, int, float, bool, type(None))


def _plain_meta(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if isinstance(v, PLAIN)}


def publish(src: str, dst: str, trust: bool = False) -> str:
    checkpoint = torch.load(src, map_location='cpu', weights_only=not trust)
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        state_dict = checkpoint['state_dict']
        meta = _plain_meta(checkpoint.get('meta', {}) or {})
    elif isinstance(checkpoint, dict) and all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        state_dict, meta = checkpoint, {}
    else:
        raise ValueError(f'{src}: neither a checkpoint with "state_dict" nor '
                         'a plain state dict')
    meta['published_from'] = osp.basename(src)
    atomic_torch_save(dict(state_dict=dict(state_dict), meta=meta), dst)
    with open(dst, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:8]
    final = f'{osp.splitext(dst)[0]}-{digest}.pth'
    os.replace(dst, final)
    return final


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument(
        '--trust', action='store_true',
        help='unpickle arbitrary Python objects in SRC (trusted files only)')
    args = parser.parse_args()
    print(f'wrote {publish(args.src, args.dst, args.trust)}')


if __name__ == '__main__':
    main()
