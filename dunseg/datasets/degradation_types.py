"""Degradation vocabulary shared by the all-in-one restoration code.

The order follows the official VLU-Net code (``de_dim`` 7 for the 5-task
setting, 5 for the 3-task setting): the class index of a degradation is its
position in the tuple, and the text prompts of the CLIP degradation prior are
listed in the same order.

``'jpeg'`` exists as a synthesizer / transform (DA-CLIP uses it later) but is
deliberately not part of these tuples.
"""
from typing import Sequence

DEGRADATIONS_5TASK = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                      'derain', 'deblur', 'delowlight')
DEGRADATIONS_3TASK = ('denoise_15', 'denoise_25', 'denoise_50', 'dehaze',
                      'derain')

DEGRADATION_PROMPTS = {
    'denoise_15': 'image with noise',
    'denoise_25': 'image with many noise',
    'denoise_50': 'image with large amount of noise',
    'dehaze': 'image with haze',
    'derain': 'image with rain',
    'deblur': 'image with blur',
    'delowlight': 'image with low light',
}


def degradation_label(name: str, classes: Sequence[str]) -> int:
    """Class index of degradation ``name`` in ``classes``.

    Args:
        name (str): Degradation name, e.g. ``'derain'``.
        classes (Sequence[str]): The dataset's ``degradation_classes``
            (e.g. :data:`DEGRADATIONS_5TASK`).

    Returns:
        int: ``classes.index(name)``.

    Raises:
        KeyError: If ``name`` is not one of ``classes``; the message lists
            the valid names.
    """
    classes = tuple(classes)
    if name not in classes:
        raise KeyError(
            f'Unknown degradation {name!r}: expected one of {classes} '
            '(see dunseg/datasets/degradation_types.py; add the name to the '
            "dataset's degradation_classes to use it).")
    return classes.index(name)


__all__ = [
    'DEGRADATIONS_5TASK', 'DEGRADATIONS_3TASK', 'DEGRADATION_PROMPTS',
    'degradation_label'
]
