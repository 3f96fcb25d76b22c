"""The data sample carried from the dataset to the metrics and visualizer."""
from typing import Dict, Optional

import torch
from mmengine.structures import BaseDataElement, PixelData


class DunSegDataSample(BaseDataElement):
    """One image's annotations, predictions and (optionally) stage states.

    Data fields (all optional):

    - ``gt_mask`` (:class:`PixelData`, ``data`` of shape (1, H, W), uint8 in
      {0, 1}): the ground-truth segmentation / target mask. Medical
      (multi-class) samples store class indices 0 .. C-1 here instead
      (``metainfo['num_classes']`` = C; e.g. ACDC: 0 background, 1 RV,
      2 myocardium, 3 LV), and ``pred_mask`` holds predicted indices.
    - ``kspace_mask`` (:class:`PixelData`, (1, H, W) float in {0, 1}, DC at
      the centre): the k-space sampling mask that produced a medical
      sample's undersampled input (``KSpaceUndersample``); a model's data
      term rebuilds the operator with
      ``dunseg.physics.undersampling.kspace_operator_from_masks``.
    - ``pred_score`` (:class:`PixelData`, (1, H, W) float in [0, 1]): the
      predicted foreground probability, e.g. ``sigmoid(T_K)`` for RPCANet.
    - ``pred_mask`` (:class:`PixelData`, (1, H, W) uint8): ``pred_score``
      thresholded by the model's ``threshold``.
    - ``input_image`` (:class:`PixelData`, (C, H, W) float): the network
      input, attached by :func:`dunseg.apis.inference_model` for drawing.
    - ``gt_edge`` (:class:`PixelData`, (1, H, W) uint8 in {0, 1}): the
      ground-truth object boundary (dilated), for models supervised on edges
      (RUN, NUN); loaded from the dataset or derived from ``gt_mask`` by
      ``GenerateEdgeFromMask``.
    - ``gt_image`` / ``pred_image`` (:class:`PixelData`, (C, H, W) float):
      clean and restored images for restoration tasks.
    - ``stage_states`` (dict of name -> tensor of shape (K, C, H, W)): every
      unfolding stage's state, filled when the model is asked for it
      (``model.return_stages = True`` or
      ``test_cfg=dict(return_stages=True)``).

    Meta fields (set by the datasets and transforms): ``img_path``,
    ``seg_map_path``, ``ori_shape``, ``img_shape``, ``flip`` ...
    """

    @property
    def gt_mask(self) -> PixelData:
        return self._gt_mask

    @gt_mask.setter
    def gt_mask(self, value: PixelData) -> None:
        self.set_field(value, '_gt_mask', dtype=PixelData)

    @gt_mask.deleter
    def gt_mask(self) -> None:
        del self._gt_mask

    @property
    def pred_score(self) -> PixelData:
        return self._pred_score

    @pred_score.setter
    def pred_score(self, value: PixelData) -> None:
        self.set_field(value, '_pred_score', dtype=PixelData)

    @pred_score.deleter
    def pred_score(self) -> None:
        del self._pred_score

    @property
    def pred_mask(self) -> PixelData:
        return self._pred_mask

    @pred_mask.setter
    def pred_mask(self, value: PixelData) -> None:
        self.set_field(value, '_pred_mask', dtype=PixelData)

    @pred_mask.deleter
    def pred_mask(self) -> None:
        del self._pred_mask

    @property
    def gt_edge(self) -> PixelData:
        return self._gt_edge

    @gt_edge.setter
    def gt_edge(self, value: PixelData) -> None:
        self.set_field(value, '_gt_edge', dtype=PixelData)

    @gt_edge.deleter
    def gt_edge(self) -> None:
        del self._gt_edge

    @property
    def gt_image(self) -> PixelData:
        return self._gt_image

    @gt_image.setter
    def gt_image(self, value: PixelData) -> None:
        self.set_field(value, '_gt_image', dtype=PixelData)

    @gt_image.deleter
    def gt_image(self) -> None:
        del self._gt_image

    @property
    def pred_image(self) -> PixelData:
        return self._pred_image

    @pred_image.setter
    def pred_image(self, value: PixelData) -> None:
        self.set_field(value, '_pred_image', dtype=PixelData)

    @pred_image.deleter
    def pred_image(self) -> None:
        del self._pred_image

    @property
    def kspace_mask(self) -> PixelData:
        return self._kspace_mask

    @kspace_mask.setter
    def kspace_mask(self, value: PixelData) -> None:
        self.set_field(value, '_kspace_mask', dtype=PixelData)

    @kspace_mask.deleter
    def kspace_mask(self) -> None:
        del self._kspace_mask

    @property
    def stage_states(self) -> Dict[str, torch.Tensor]:
        return self._stage_states

    @stage_states.setter
    def stage_states(self, value: Dict[str, torch.Tensor]) -> None:
        self.set_field(value, '_stage_states', dtype=dict)

    @stage_states.deleter
    def stage_states(self) -> None:
        del self._stage_states


def stack_gt_masks(data_samples, device: Optional[torch.device] = None
                   ) -> torch.Tensor:
    """Stack ``gt_mask`` of a batch into a float tensor of shape (N, 1, H, W).

    Raises a ValueError naming the image when a sample has no mask or the
    masks of a batch differ in size (use a Resize transform or batch size 1).
    """
    masks = []
    for sample in data_samples:
        if 'gt_mask' not in sample:
            raise ValueError(
                f'data sample of {sample.metainfo.get("img_path", "?")} has '
                'no gt_mask; training needs a mask-loading transform '
                '(e.g. LoadISTDAnnotations) in the pipeline')
        masks.append(sample.gt_mask.data)
    shapes = {tuple(m.shape) for m in masks}
    if len(shapes) > 1:
        raise ValueError(
            f'gt masks in one batch differ in shape {sorted(shapes)}; add a '
            'Resize/RandomCrop transform so every sample has the same size')
    out = torch.stack(masks).float()
    return out.to(device) if device is not None else out
