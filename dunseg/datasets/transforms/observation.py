"""Degrade the image a segmentation pipeline loaded.

:class:`~dunseg.datasets.transforms.Degrade` makes a degraded ``img`` from a
clean ``gt_img`` (restoration pairs). Infrared small-target and other
segmentation data carry only ``img``; :class:`DegradeObservation` keeps it
as the clean ``gt_img`` and replaces ``img`` by its degraded version, so a
segmentor learns to find targets in noisy or blurred frames (and a
degradation prior has something to recognise).
"""
from dunseg.registry import TRANSFORMS

from .restoration import Degrade


@TRANSFORMS.register_module()
class DegradeObservation(Degrade):
    """``gt_img`` = the loaded ``img``; ``img`` = its degraded version.

    Same arguments, degradation model (:func:`dunseg.physics.synthesize`)
    and randomness as :class:`Degrade`; ``skip_if_degraded`` is always
    False. Added keys: ``gt_img``, ``degradation``, ``degradation_label``.
    Images are float (H, W, C) in [0, 1] (grey frames have C = 1).
    """

    def __init__(self, **kwargs) -> None:
        if kwargs.pop('skip_if_degraded', False):
            raise ValueError('DegradeObservation always degrades the loaded '
                             'img; drop skip_if_degraded')
        super().__init__(skip_if_degraded=False, **kwargs)

    def transform(self, results: dict) -> dict:
        if results.get('img') is None:
            raise KeyError(
                "DegradeObservation: no 'img' in the results of "
                f"{results.get('img_path')!r}; put it after the loading step")
        results['gt_img'] = results['img']
        return super().transform(results)


__all__ = ['DegradeObservation']
