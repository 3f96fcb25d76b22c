"""Multi-class medical segmentation: the segmentation-only baseline of VL-DUN.

:class:`MultiClassSegMixin` holds what every medical segmentation model here
shares, so a baseline is trained and scored exactly like the joint model:
per-dataset label spaces, the ground-truth masks, the segmentation losses
(CE + multi-class Dice) and the softmax / argmax predictions that
:class:`~dunseg.evaluation.MedicalSegMetric` reads.
:class:`~dunseg.models.architectures.JointRestorerSegmentor` (VL-DUN) and
:class:`MedicalSegmentor` use it.
"""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import nn

from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

from ..losses.segmentation_losses import MultiClassDiceLoss


class MultiClassSegMixin:
    """Label spaces, targets, losses and predictions of a model with a
    multi-class ``seg_head`` and ``seg_losses``.

    ``label_spaces`` (``dataset_name -> [global class of local label 0, 1,
    ...]``) lets datasets whose labels mean different things share one head
    over the union of their classes: the losses see global labels, the Dice
    loss scores only the image's own classes, and predictions are
    restricted to the sample's dataset's classes and given back as its local
    indices. None = one shared label space.
    """

    #: Appended to the error raised when a training sample has no gt_mask.
    missing_mask_hint = ''

    def _set_label_spaces(
            self, label_spaces: Optional[Dict[str, Sequence[int]]]) -> None:
        self.label_spaces = None
        if label_spaces is None:
            return
        self.label_spaces = {
            name: tuple(int(c) for c in classes)
            for name, classes in label_spaces.items()
        }
        num = getattr(self.seg_head, 'num_classes', None)
        for name, classes in self.label_spaces.items():
            if classes[0] != 0 or (num is not None and max(classes) >= num):
                raise ValueError(
                    f'label_spaces[{name!r}] = {classes}: local label 0 must '
                    'map to the background 0 and every class must be below '
                    f'the Seg. Head\'s num_classes ({num})')

    def _label_space(self, sample) -> Optional[torch.Tensor]:
        """Global class of each local label of ``sample``'s dataset."""
        if self.label_spaces is None:
            return None
        name = sample.metainfo.get('dataset_name')
        if name not in self.label_spaces:
            raise KeyError(
                f'dataset_name {name!r} has no entry in model.label_spaces '
                f'{sorted(self.label_spaces)}; add its classes')
        return torch.tensor(self.label_spaces[name], dtype=torch.long)

    def _gt_masks(self, data_samples, device) -> torch.Tensor:
        masks = []
        for sample in data_samples:
            if 'gt_mask' not in sample:
                raise ValueError(
                    f'data sample of {sample.metainfo.get("img_path", "?")} '
                    'has no gt_mask; the segmentation loss needs label maps'
                    f'{self.missing_mask_hint}')
            mask = sample.gt_mask.data[0].long()
            space = self._label_space(sample)
            if space is not None:
                # local -> global labels, looked up on the mask's device
                mask = space.to(mask.device, non_blocking=True)[mask]
            masks.append(mask)
        return torch.stack(masks).to(device)

    def _class_mask(self, data_samples, num_classes: int, device):
        """(N, classes) bool: the classes of each sample's dataset."""
        if self.label_spaces is None:
            return None
        keep = torch.zeros(len(data_samples), num_classes, dtype=torch.bool)
        for i, sample in enumerate(data_samples):
            keep[i, self._label_space(sample)] = True
        return keep.to(device, non_blocking=True)

    def seg_loss(self, seg_logits: torch.Tensor,
                 data_samples) -> Dict[str, torch.Tensor]:
        """Every loss of ``seg_losses`` on (N, classes, H, W) logits.

        Samples whose metainfo has ``seg_labelled=False`` (slices with no
        label map, trained for restoration only) are left out; a batch
        with none labelled gives zero losses that keep the graph."""
        labelled = [
            i for i, sample in enumerate(data_samples)
            if sample.metainfo.get('seg_labelled', True)
        ]
        if not labelled:
            zero = seg_logits.sum() * 0
            return {loss_fn.loss_name: zero for loss_fn in self.seg_losses}
        if len(labelled) < len(data_samples):
            seg_logits = seg_logits[labelled]
            data_samples = [data_samples[i] for i in labelled]
        target = self._gt_masks(data_samples, seg_logits.device)
        class_mask = self._class_mask(data_samples, seg_logits.shape[1],
                                      seg_logits.device)
        losses = {}
        for loss_fn in self.seg_losses:
            if class_mask is not None and isinstance(loss_fn,
                                                     MultiClassDiceLoss):
                losses[loss_fn.loss_name] = loss_fn(seg_logits, target,
                                                    class_mask)
            else:
                losses[loss_fn.loss_name] = loss_fn(seg_logits, target)
        return losses

    def seg_scores(self, seg_logits: torch.Tensor,
                   data_samples) -> List[torch.Tensor]:
        """Per sample (classes, H, W) softmax over its dataset's classes."""
        scores = []
        for i, sample in enumerate(data_samples):
            logits = seg_logits[i].float()
            space = self._label_space(sample)
            if space is not None:  # the dataset's classes, local order
                logits = logits[space.to(logits.device)]
            scores.append(logits.softmax(0))
        return scores

    @staticmethod
    def set_seg_prediction(sample, score: torch.Tensor) -> None:
        """``pred_score`` and its argmax ``pred_mask`` (1, H, W) long."""
        sample.pred_score = PixelData(data=score)
        sample.pred_mask = PixelData(
            data=score.argmax(0, keepdim=True).long())


@MODELS.register_module()
class MedicalSegmentor(MultiClassSegMixin, DunSegModel):
    """Backbone -> Seg. Head -> multi-class masks, no restoration.

    The segmentation-only comparison of VL-DUN (arXiv 2601.23103, Sec. 4:
    joint restoration + segmentation against segmentation networks trained
    on the degraded images): mmsegmentation's encoder-decoder pattern
    (``EncoderDecoder``: a backbone, ``in_index`` picking the feature map
    the decode head reads, logits resized to the input), with the
    losses, label spaces and prediction fields of
    :class:`~dunseg.models.architectures.JointRestorerSegmentor`, so the
    same data, losses and ``MedicalSegMetric`` apply unchanged.

    The shipped baseline
    (``configs/unet/unet_tiny_0.6k_synthetic-phantom-64x64.py``)
    uses mmseg's ``UNet`` backbone (Ronneberger, Fischer, Brox, "U-Net:
    Convolutional Networks for Biomedical Image Segmentation", MICCAI 2015;
    ``type='mmseg.UNet'``) and VL-DUN's own Seg. Head
    (:class:`~dunseg.models.unfolding.VLDUNSegHead`) as the decode head.

    Inputs are (N, C, H, W) slices (the zero-filled ones for the baseline,
    restorations inside :class:`RestoreThenSegment`). Predictions:
    ``pred_score`` (classes, H, W) softmax and ``pred_mask`` (1, H, W) long
    class indices.

    Args:
        backbone (dict): Feature extractor, e.g. ``dict(type='mmseg.UNet',
            in_channels=1, base_channels=16)``; a tensor or a list of
            feature maps.
        seg_head (dict): e.g. ``dict(type='VLDUNSegHead', in_channels=16,
            num_classes=4)``; ``in_channels`` defaults to the backbone's
            ``base_channels`` (the width of a U-Net's last decoder output).
        seg_losses (sequence[dict]): Losses on the class logits (CE and
            multi-class Dice, as VL-DUN's).
        in_index (int): Which backbone output the head reads when the
            backbone returns a list (-1: a U-Net's full-resolution decoder
            output).
        label_spaces (dict, optional): See :class:`MultiClassSegMixin`.
        data_preprocessor (dict, optional): Defaults to
            ``DunSegDataPreprocessor``.
        init_cfg (dict, optional): MMEngine init config.
    """

    missing_mask_hint = (' (PackMedicalInputs of a dataset with masks)')

    def __init__(self,
                 backbone: dict,
                 seg_head: dict,
                 seg_losses: Sequence[dict] = (
                     dict(type='CrossEntropyLoss', loss_name='loss_seg_ce'),
                     dict(type='MultiClassDiceLoss',
                          loss_name='loss_seg_dice')),
                 in_index: int = -1,
                 label_spaces: Optional[Dict[str, Sequence[int]]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        seg_head = copy.deepcopy(dict(seg_head))
        width = getattr(self.backbone, 'base_channels', None)
        if 'in_channels' not in seg_head:
            if width is None:
                raise ValueError(
                    f'{type(self.backbone).__name__} has no base_channels; '
                    'set model.seg_head.in_channels to the channels of the '
                    'backbone output the head reads (in_index)')
            seg_head['in_channels'] = width
        self.seg_head = MODELS.build(seg_head)
        self.seg_losses = nn.ModuleList(
            [MODELS.build(cfg) for cfg in seg_losses])
        self.in_index = in_index
        self._set_label_spaces(label_spaces)

    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        return self.seg_logits(inputs)

    def seg_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, classes, H, W) logits at the input size."""
        features = self.backbone(inputs)
        if isinstance(features, (list, tuple)):
            features = features[self.in_index]
        logits = self.seg_head(features)
        if logits.shape[-2:] != inputs.shape[-2:]:
            logits = F.interpolate(logits, size=inputs.shape[-2:],
                                   mode='bilinear', align_corners=False)
        return logits

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        return self.seg_loss(self.seg_logits(inputs), data_samples)

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        scores = self.seg_scores(self.seg_logits(inputs), data_samples)
        for sample, score in zip(data_samples, scores):
            self.set_seg_prediction(sample, score)
        return data_samples


__all__ = ['MultiClassSegMixin', 'MedicalSegmentor']
