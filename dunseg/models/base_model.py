"""The model base class every dunseg architecture derives from."""
from typing import List, Optional

import torch
from mmengine.model import BaseModel

from dunseg.structures import DunSegDataSample


class DunSegModel(BaseModel):
    """MMEngine's ``BaseModel`` with mmseg's three-mode ``forward``.

    ``mode='loss'`` returns :meth:`loss` (a dict of losses), ``'predict'``
    :meth:`predict` (data samples with the predictions) and ``'tensor'``
    :meth:`_forward` (the raw network output, for FLOP counting and export).
    Subclasses implement those three. ``data_preprocessor=None`` means a
    plain ``DunSegDataPreprocessor`` (inputs in [0, 1], no normalisation).
    """

    def __init__(self, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='DunSegDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f'mode must be "loss", "predict" or "tensor", got '
                         f'"{mode}"')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> dict:
        raise NotImplementedError

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        raise NotImplementedError

    def _forward(self, inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        raise NotImplementedError
