"""Parts built for pretrained weights that start from random ones.

No weight is downloaded at run time: a config names local weight files
(ImageNet ResNet-50, CLIP, DA-CLIP), and a paper recipe run without them
trains from a random initialisation. That is allowed, but it must not pass
unnoticed: such a part records a note with :func:`note_random_init`, and
:class:`~dunseg.engine.DunSegRunner` logs a WARNING per part naming the
config key to set (``tools/train.py`` prints one summary line).
"""
from typing import List, Tuple

from torch import nn

_NOTE = '_random_init_note'


def note_random_init(module: nn.Module, key: str, weights: str) -> None:
    """Record that ``module`` expects ``weights`` through its argument
    ``key`` but got none."""
    setattr(module, _NOTE, (key, weights))


def clear_random_init(module: nn.Module) -> None:
    """The weights were loaded after all (e.g. from a combined file)."""
    if hasattr(module, _NOTE):
        delattr(module, _NOTE)


def random_init_parts(model: nn.Module,
                      prefix: str = 'model') -> List[Tuple[str, str]]:
    """``(config key, weights)`` of every part of ``model`` that starts from
    random weights although it was built for pretrained ones.

    The config key is the module's path under ``prefix`` plus its argument,
    e.g. ``model.encoder.pretrained``: dunseg's architectures keep each
    sub-config under the attribute of the same name.
    """
    parts = []
    for name, module in model.named_modules():
        note = getattr(module, _NOTE, None)
        if note is not None:
            key, weights = note
            path = '.'.join(p for p in (prefix, name, key) if p)
            parts.append((path, weights))
    return parts
