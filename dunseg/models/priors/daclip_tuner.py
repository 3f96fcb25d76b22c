"""Training DA-CLIP's controller (Luo et al., ICLR 2024) as an MMEngine model.

DA-CLIP trains on (degraded image, "caption: degradation word") pairs: the
caption describes the clean content (BLIP captions of the ground truth in the
official ``scripts/generate_captions.py``), the word names the degradation.
The loss (:class:`~dunseg.models.losses.DACLIPLoss`) aligns the content
embedding with the caption and the degradation embedding with the word.

The embedded data (``SyntheticDegradationDataset``) has no captions. The
caption here is built from the sample's ``source`` (the skimage photograph
or procedural texture the crop came from) by ``caption_template``:
``'a photo of astronaut'``, ``'a texture of stripes'``; without a source the
fixed ``default_caption`` is used. Add ``'source'`` to
``PackRestorationInputs.meta_keys`` so that it reaches the model.
"""
import copy
from typing import Dict, List, Optional, Sequence

import torch

from dunseg.models.base_model import DunSegModel
from dunseg.registry import MODELS
from dunseg.structures import DunSegDataSample

#: DA-CLIP word of each dunseg degradation class.
DACLIP_WORD_OF_CLASS = {
    'denoise_15': 'noisy',
    'denoise_25': 'noisy',
    'denoise_50': 'noisy',
    'dehaze': 'hazy',
    'derain': 'rainy',
    'deblur': 'motion-blurry',
    'delowlight': 'low-light',
    'jpeg': 'jpeg-compressed',
    # not DA-CLIP words: NUN's low-resolution setting, and "no degradation"
    # so that a prior can tell a restorer to leave an image alone
    'lowres': 'low-resolution',
    'clean': 'clean',
}


@MODELS.register_module()
class DACLIPTuner(DunSegModel):
    """Trains a :class:`DACLIPPrior`'s controller; recognises degradations.

    ``loss``: DA-CLIP's loss on the batch. ``predict``: zero-shot
    probabilities over the class words; fills ``pred_label`` (index into
    ``classes``), ``pred_scores`` and ``pred_degradation`` for
    ``DegradationRecognitionMetric``.

    Args:
        prior (dict): ``DACLIPPrior`` config; ``prompts`` are set to the
            class words and ``trainable`` defaults to
            ``('controller', 'logit_scale')`` (DA-CLIP's recipe: CLIP frozen).
        classes (sequence of str): the dataset's degradation classes.
        words (sequence of str, optional): one distinct DA-CLIP word per
            class; defaults to :data:`DACLIP_WORD_OF_CLASS`.
        loss (dict): loss config (``DACLIPLoss``).
        caption_template (str): caption from the source name; ``{kind}``
            is ``'photo'`` or ``'texture'``, ``{name}`` the image / texture
            name.
        default_caption (str): caption of samples without a ``source``.
        max_logit_scale (float): clamp of ``exp(logit_scale)`` (open_clip
            clamps ``logit_scale`` to ln 100 during training).
        label_key (str): metainfo key of a sample's degradation: an index
            into ``classes`` (``degradation_label``, the restoration data)
            or a class name (e.g. ``kspace_pattern`` of the medical
            phantoms).
        data_preprocessor (dict, optional): defaults to
            ``DunSegDataPreprocessor``.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 prior: dict,
                 classes: Sequence[str],
                 words: Optional[Sequence[str]] = None,
                 loss: dict = dict(type='DACLIPLoss'),
                 caption_template: str = 'a {kind} of {name}',
                 default_caption: str = 'a photo',
                 max_logit_scale: float = 100.0,
                 label_key: str = 'degradation_label',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.classes = tuple(classes)
        if words is None:
            missing = [c for c in self.classes if c not in
                       DACLIP_WORD_OF_CLASS]
            if missing:
                raise KeyError(f'no DA-CLIP word for class(es) {missing}; '
                               'pass words=(...) in class order')
            words = [DACLIP_WORD_OF_CLASS[c] for c in self.classes]
        self.words = tuple(words)
        if len(self.words) != len(self.classes):
            raise ValueError(f'{len(self.words)} words for '
                             f'{len(self.classes)} classes; give one word '
                             'per class, in class order')
        if len(set(self.words)) != len(self.words):
            raise ValueError(
                f'classes {self.classes} map to repeated words {self.words}; '
                'zero-shot recognition needs one distinct word per class '
                '(e.g. keep one noise level, or pass words=(...))')
        prior = copy.deepcopy(dict(prior))
        prior.setdefault('type', 'DACLIPPrior')
        prior['prompts'] = self.words
        prior.setdefault('trainable', ('controller', 'logit_scale'))
        self.prior = MODELS.build(prior)
        self.loss_module = MODELS.build(loss)
        self.caption_template = caption_template
        self.default_caption = default_caption
        self.max_logit_scale = float(max_logit_scale)
        self.label_key = label_key

    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples: Optional[List[DunSegDataSample]] = None):
        return self.prior(inputs)

    def caption(self, sample: DunSegDataSample) -> str:
        source = sample.metainfo.get('source')
        if not source:
            return self.default_caption
        kind, _, name = str(source).rpartition(':')
        return self.caption_template.format(
            kind=kind or 'photo', name=name.replace('_', ' '))

    def _labels(self, data_samples, device) -> torch.Tensor:
        labels = []
        for sample in data_samples:
            if self.label_key not in sample.metainfo:
                raise KeyError(
                    f"data sample of {sample.metainfo.get('img_path')} has "
                    f"no metainfo[{self.label_key!r}]; use a degradation "
                    'dataset with PackRestorationInputs, or set label_key')
            label = sample.metainfo[self.label_key]
            if isinstance(label, str):
                if label not in self.classes:
                    raise ValueError(
                        f'metainfo[{self.label_key!r}] = {label!r} is not '
                        f'one of the classes {self.classes}')
                label = self.classes.index(label)
            labels.append(int(label))
        # checked on the host, where the labels come from: a check on the
        # device tensor would wait for the device
        if any(label < 0 or label >= len(self.classes) for label in labels):
            raise ValueError(f'degradation labels {labels} outside '
                             f'the {len(self.classes)} classes; the model '
                             "classes must equal the dataset's")
        return torch.tensor(labels, dtype=torch.long).to(device,
                                                         non_blocking=True)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DunSegDataSample]) -> Dict[str, torch.Tensor]:
        out = self.prior(inputs)
        labels = self._labels(data_samples, inputs.device)
        captions = self.prior.tokenize([self.caption(s)
                                        for s in data_samples])
        caption_features = self.prior.encode_text_tokens(captions)
        word_features = self.prior.encode_prompts()[labels]
        logit_scale = self.prior.logit_scale.exp().clamp(
            max=self.max_logit_scale)
        losses = self.loss_module(out['content'], caption_features,
                                  out['embedding'], word_features,
                                  logit_scale, word_ids=labels)
        accuracy = (out['logits'].detach().argmax(1) == labels).float()
        losses['accuracy'] = accuracy.mean() * 100
        return losses

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DunSegDataSample]] = None
                ) -> List[DunSegDataSample]:
        probs = self.prior(inputs)['probs'].float()
        if data_samples is None:
            data_samples = [DunSegDataSample() for _ in range(len(inputs))]
        for sample, prob in zip(data_samples, probs):
            label = prob.argmax()
            sample.set_field(label.cpu(), 'pred_label')
            sample.set_field(prob.cpu(), 'pred_scores')
            sample.set_field(self.classes[int(label)], 'pred_degradation')
        return data_samples


__all__ = ['DACLIPTuner', 'DACLIP_WORD_OF_CLASS']
