import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from dunseg.registry import MODELS


@MODELS.register_module()
class DunSegDataPreprocessor(BaseDataPreprocessor):
    """Batch, normalise and pad images for the unfolding models.

    Images arrive from the pipeline as float tensors (C, H, W) in [0, 1]
    (``PackISTDInputs``), as a list (``pseudo_collate``) or already stacked
    (``default_collate``).

    Args:
        mean, std (sequence of float, optional): Per-channel normalisation
            ``(x - mean) / std``; None keeps the [0, 1] range (RPCANet).
        in_channels (int, optional): Channel count the model expects; a batch
            with another count raises an error naming the image.
        size_divisor (int, optional): Pad H and W up to a multiple of this
            (bottom/right, with ``pad_val``); in training, ground-truth masks
            are padded with background. Samples get ``pad_shape`` in their
            metainfo.
        pad_val (float): Value of padded image pixels.
        channels_last (bool): Return the batch in channels-last memory
            format (faster convolutions on CPU; pair with a channels-last
            model).
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 in_channels: Optional[int] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: float = 0.0,
                 channels_last: bool = False) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer(
                'mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1),
                False)
            self.register_buffer(
                'std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1),
                False)
        self.in_channels = in_channels
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.channels_last = channels_last

    def _check_channels(self, inputs: Sequence[torch.Tensor],
                        data_samples) -> None:
        if self.in_channels is None:
            return
        for i, img in enumerate(inputs):
            if img.dim() != 3 or img.shape[0] != self.in_channels:
                path = None
                if data_samples is not None and i < len(data_samples):
                    path = data_samples[i].metainfo.get('img_path')
                raise ValueError(
                    f'image {path or i} has shape {tuple(img.shape)} but the '
                    f'model expects {self.in_channels} channel(s) (C, H, W); '
                    'set color_type in the loading transform (grayscale for '
                    'infrared models) or in_channels of the model')

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs: Union[torch.Tensor, list] = data['inputs']
        data_samples = data.get('data_samples')
        if isinstance(inputs, torch.Tensor) and inputs.dim() == 3:
            inputs = [inputs]
        self._check_channels(list(inputs), data_samples)

        if isinstance(inputs, torch.Tensor):
            batch = inputs.float()
        else:
            h = max(img.shape[-2] for img in inputs)
            w = max(img.shape[-1] for img in inputs)
            batch = torch.stack([
                F.pad(img.float(),
                      (0, w - img.shape[-1], 0, h - img.shape[-2]),
                      value=self.pad_val) for img in inputs
            ])
        if self.normalize:
            batch = (batch - self.mean) / self.std
        if self.size_divisor:
            h, w = batch.shape[-2:]
            ph = math.ceil(h / self.size_divisor) * self.size_divisor
            pw = math.ceil(w / self.size_divisor) * self.size_divisor
            batch = F.pad(batch, (0, pw - w, 0, ph - h), value=self.pad_val)
        if data_samples is not None:
            pad_shape = tuple(batch.shape[-2:])
            for sample in data_samples:
                sample.set_metainfo(dict(pad_shape=pad_shape,
                                         batch_input_shape=pad_shape))
                # Masks are padded for the loss only; evaluation compares
                # against the unpadded mask after the model crops its output.
                if training and 'gt_mask' in sample and tuple(
                        sample.gt_mask.shape) != pad_shape:
                    mask = sample.gt_mask.data
                    sample.gt_mask.data = F.pad(
                        mask, (0, pad_shape[1] - mask.shape[-1], 0,
                               pad_shape[0] - mask.shape[-2]), value=0)
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return dict(inputs=batch, data_samples=data_samples)
