"""Sequential restore-then-segment: the pipeline VL-DUN's joint model is
claimed to beat (arXiv 2601.23103, Sec. 1 and 4: restoration and
segmentation trained separately, the segmenter seeing restored images).
"""
import os.path as osp
from typing import Dict, List, Optional

import torch

from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample


@MODELS.register_module()
class RestoreThenSegment(DunSegModel):
    """A frozen, trained restorer followed by a segmenter trained on its
    restorations.

    Step 1 trains the restorer alone (for VL-DUN: the joint model with
    ``seg_head=None``,
    ``configs/vldun/vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py``).
    Step 2, this model, loads that run's checkpoint into the
    restorer, freezes it (no gradient, always in eval mode, so
    normalisation statistics and dropout stay as trained) and trains the
    segmenter (e.g. :class:`~dunseg.models.architectures.MedicalSegmentor`)
    on the restored slices clamped to [0, 1], exactly what the restorer
    predicts at test time.

    Predictions carry the same fields as the joint model, so the same
    ``MedicalSegMetric`` scores both: the restorer's ``pred_image``,
    ``input_image`` (and ``pred_modality`` / ``pred_degradation``,
    ``stage_states`` when it gives them) and the segmenter's ``pred_mask``
    and ``pred_score``.

    The restorer checkpoint is loaded when the model is built, strictly
    (every key and shape), so a missing file or a checkpoint of another
    configuration fails before any data is read. :meth:`init_weights`
    leaves the loaded restorer alone. A checkpoint of this model (written by
    step 2) holds the restorer's weights too; testing it still builds the
    model, so the step-1 file must exist then as well.

    Args:
        restorer (dict): The restoration-only model config (a restorer that
            also segments would make the pipeline joint, so a
            ``seg_head`` is refused).
        restorer_checkpoint (str): Local checkpoint of a run of exactly that
            config (``state_dict`` as MMEngine writes it).
        segmenter (dict): The segmentation model config, trained on the
            restorations (its own data preprocessor is not used: this
            model's preprocesses the degraded inputs once).
        data_preprocessor (dict, optional): Defaults to
            ``DunSegDataPreprocessor``.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 restorer: dict,
                 restorer_checkpoint: str,
                 segmenter: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not restorer_checkpoint:
            raise ValueError(
                'RestoreThenSegment needs restorer_checkpoint: the local '
                'checkpoint of the trained restorer (step 1, e.g. '
                'work_dirs/vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64/'
                'iter_600.pth)')
        self.restorer = MODELS.build(restorer)
        if getattr(self.restorer, 'seg_head', None) is not None:
            raise ValueError(
                'RestoreThenSegment: the restorer has a segmentation head; '
                'a sequential pipeline restores without segmenting, so set '
                'seg_head=None in the restorer config (and train it so)')
        self.restorer_checkpoint = restorer_checkpoint
        self.load_restorer_checkpoint(restorer_checkpoint)
        self.restorer.requires_grad_(False)
        self.restorer.eval()
        self.segmenter = MODELS.build(segmenter)

    def load_restorer_checkpoint(self, path: str) -> None:
        """Load ``path`` into the restorer, every key and shape matching."""
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'restorer_checkpoint {path!r} does not exist; train the '
                'restorer first (step 1, e.g. python tools/train.py '
                'configs/vldun/'
                'vldun-wo-seghead_tiny_0.6k_synthetic-phantom-64x64.py) '
                'or set model.restorer_checkpoint to its checkpoint')
        # DunSegRunner's checkpoints load with weights_only=True; a foreign
        # pickled one gets the message that says how to convert it
        from dunseg.engine.checkpoint import load_weights_only
        checkpoint = load_weights_only(path, map_location='cpu')
        state = checkpoint.get('state_dict', checkpoint)
        own = self.restorer.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        reshaped = sorted(
            f'{key} {tuple(state[key].shape)} vs {tuple(own[key].shape)}'
            for key in set(own) & set(state)
            if tuple(state[key].shape) != tuple(own[key].shape))
        if missing or unexpected or reshaped:
            hint = 'use the config of the run that wrote it'
            if any(k.startswith('seg_head.') for k in unexpected):
                hint = ('it was trained with a segmentation head; train the '
                        'restorer with seg_head=None')
            elif unexpected and all(
                    k.startswith(('restorer.', 'segmenter.'))
                    for k in unexpected):
                hint = ('it is a RestoreThenSegment checkpoint; give the '
                        "restorer's own (step 1) checkpoint")
            raise ValueError(
                f'restorer_checkpoint {path!r} does not match '
                f'model.restorer ({len(missing)} missing keys {missing[:3]}, '
                f'{len(unexpected)} unexpected {unexpected[:3]}, '
                f'{len(reshaped)} of another shape {reshaped[:3]}); {hint}')
        self.restorer.load_state_dict(state, strict=True)

    def init_weights(self) -> None:
        # the restorer holds its trained weights; only the segmenter starts
        # from its initialisation
        self.segmenter.init_weights()

    def train(self, mode: bool = True) -> 'RestoreThenSegment':
        super().train(mode)
        self.restorer.eval()
        return self

    # ------------------------------------------------------------------ #
    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        return self.segmenter(
            self.restore(inputs, data_samples), mode='tensor')

    @torch.no_grad()
    def restore(self, inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> torch.Tensor:
        """The restored slices in [0, 1], as the restorer predicts them."""
        return self.restorer(inputs, data_samples, mode='tensor').clamp(0, 1)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        return self.segmenter.loss(
            self.restore(inputs, data_samples), data_samples)

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        data_samples = self.restorer.predict(inputs, data_samples)
        # clamped as in training, whatever range the restorer predicts
        restored = torch.stack(
            [sample.pred_image.data for sample in data_samples]).clamp(0, 1)
        return self.segmenter.predict(restored.to(inputs.dtype),
                                      data_samples)


__all__ = ['RestoreThenSegment']
