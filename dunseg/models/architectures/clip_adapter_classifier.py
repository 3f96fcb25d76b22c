"""Fine-tuning VLU-Net's CLIP adapters as a degradation classifier."""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from dunseg.datasets.degradation_types import (
    DEGRADATION_PROMPTS,
    DEGRADATIONS_5TASK,
)
from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample


@MODELS.register_module()
class CLIPAdapterClassifier(DunSegModel):
    """Degradation recognition by a CLIP prior head (VLU-Net, step 1).

    The official notebook ``CLIP_degradation_extractor.ipynb`` trains the
    image and text adapters of a frozen open_clip ViT-B-32 so that the
    degraded image's adapted feature points to its degradation prompt::

        logits = A_img(E_img(y)) · A_txt(E_txt(prompts))ᵀ     (N, C)
        loss   = CrossEntropy(logits, degradation_label)

    (Adam 1e-5, batch 32, 100 epochs, random 128 crops). The trained head
    (``self.prior``, keys ``prior.*``) is the ``prior`` of VLU-Net's
    ``Restorer``, whose keys are ``prior.*`` too, so the checkpoint loads
    there directly.

    Inputs are the degraded images in [0, 1] (``PackRestorationInputs``);
    the CLIP input pipeline is inside the prior. Labels are
    ``metainfo['degradation_label']`` (index into ``classes``).

    Args:
        prior (dict): config of the prior head (``type`` defaults to
            ``'CLIPDegradationPrior'``). ``prompts`` default to the prompts of
            ``classes``; ``trainable`` defaults to both adapters.
        classes (sequence of str): degradation classes, in label order
            (``dunseg.datasets.degradation_types``); must equal the dataset's
            ``degradation_classes``.
        label_smoothing (float): cross-entropy label smoothing (0 official).
        data_preprocessor (dict, optional): defaults to
            ``DunSegDataPreprocessor`` (no normalisation: images stay in
            [0, 1]).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 prior: dict,
                 classes: Sequence[str] = DEGRADATIONS_5TASK,
                 label_smoothing: float = 0.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.classes = tuple(classes)
        unknown = [c for c in self.classes if c not in DEGRADATION_PROMPTS]
        prior = copy.deepcopy(dict(prior))
        prior.setdefault('type', 'CLIPDegradationPrior')
        if prior.get('prompts') is None:
            if unknown:
                raise KeyError(
                    f'no default prompt for class(es) {unknown}; add them '
                    'to DEGRADATION_PROMPTS or pass prior.prompts')
            prior['prompts'] = [DEGRADATION_PROMPTS[c] for c in self.classes]
        if len(prior['prompts']) != len(self.classes):
            raise ValueError(
                f'{len(prior["prompts"])} prompts for {len(self.classes)} '
                'classes; give one prompt per class, in class order')
        prior.setdefault('trainable', ('image_adapter', 'text_adapter'))
        self.prior = MODELS.build(prior)
        self.label_smoothing = label_smoothing

    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        return self.prior(inputs)['logits']

    def _labels(self, data_samples: List[DunSegDataSample],
                device: torch.device) -> torch.Tensor:
        labels = []
        for sample in data_samples:
            if 'degradation_label' not in sample.metainfo:
                path = sample.metainfo.get('img_path', 'an image')
                raise KeyError(
                    f'data sample of {path}'
                    " has no metainfo['degradation_label']; use a degradation "
                    'dataset with PackRestorationInputs')
            label = int(sample.metainfo['degradation_label'])
            if not 0 <= label < len(self.classes):
                raise ValueError(
                    f'degradation_label {label} outside the '
                    f'{len(self.classes)} classes {self.classes}; the model '
                    "classes must match the dataset's degradation_classes")
            labels.append(label)
        # a non-blocking copy: the host does not wait for the device
        return torch.tensor(labels, dtype=torch.long).to(device,
                                                         non_blocking=True)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        logits = self.prior(inputs)['logits']
        labels = self._labels(data_samples, logits.device)
        loss = F.cross_entropy(
            logits, labels, label_smoothing=self.label_smoothing)
        accuracy = (logits.detach().argmax(1) == labels).float().mean() * 100
        return dict(loss_ce=loss, accuracy=accuracy)

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        """Fill ``pred_label`` (0-d long), ``pred_scores`` (softmax, (C,))
        and ``pred_degradation`` (class name) of every data sample."""
        scores = self.prior(inputs)['logits'].float().softmax(dim=1)
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        for sample, score in zip(data_samples, scores):
            label = score.argmax()
            sample.set_field(label.cpu(), 'pred_label')
            sample.set_field(score.cpu(), 'pred_scores')
            sample.set_field(self.classes[int(label)], 'pred_degradation')
        return data_samples


__all__ = ['CLIPAdapterClassifier']
