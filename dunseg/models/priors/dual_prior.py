"""VL-DUN's CLIP dual prior: modality prior + degradation prior (Sec. 3.3).

One open_clip CLIP gives both priors from the degraded slice ``y``
(grey slices are repeated to 3 channels before CLIP's input pipeline):

    f = E_v(y)                                             image feature
    p_mod = softmax(W_cls f)                    (Eq. 2)    modality prior
    L_mod = −α (1 − p_t)^γ log p_t              (Eq. 3)    focal loss
    s_k = τ · f̂ · t̂_k,   t_k = E_t(prompt_k)  (Sec. 3.3.3) degradation prior
    L_deg = CE(s, degradation label)                       image-text CE

``f̂``, ``t̂`` are L2-normalised and τ a fixed logit scale (the paper says
"dot product"; normalised features with CLIP's scale 100 keep the logits in
CLIP's trained range, our choice). The text tower is frozen (its prompt
features are cached); fine-tuning trains the image tower and the
classifier W_cls (``trainable=('visual', 'modality_classifier')``).

What the unfolding network receives (``'embedding'``, (N, 2, embed_dim)):
the modality vector ``f̂`` and the degradation vector ``Σ_k softmax(s)_k t̂_k``
(the similarity distribution over the prompts read back into CLIP's joint
space, "the CLIP-projected prior"), the keys and values of VL-DUN's AMGDM.
The logits over modalities and degradations come with it, for the losses
and for the recognised modality / degradation in predictions.

The paper fine-tunes on 8 medical datasets and 4 degradation primitives
(noise, blur, motion, low resolution; App. D); :data:`MEDICAL_DEGRADATION
_PROMPTS` holds prompts for those (the first is the paper's example) and for
this library's k-space patterns (radial CT, Cartesian MRI), which are what
the medical pipelines label (``kspace_pattern``).
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from dunseg.registry import MODELS

from .clip_degradation_prior import CLIPPriorBase, _clip_embed_dim

#: Degradation prompts: the paper's primitives (App. D) and the k-space
#: undersampling patterns of ``KSpaceUndersample`` (``kspace_pattern``).
MEDICAL_DEGRADATION_PROMPTS = OrderedDict(
    noise='Noisy medical image with severe grain',
    blur='Blurry medical image with soft edges',
    motion='Medical image with motion artifacts',
    low_resolution='Low-resolution medical image with pixelation',
    radial='Sparse-view CT image with radial streak artifacts',
    cartesian='Undersampled MRI image with aliasing ghosts',
)


@MODELS.register_module()
class CLIPDualPrior(CLIPPriorBase):
    """Modality prior (linear classifier, focal loss) and degradation prior
    (similarity to frozen text prompts, CE) from one CLIP (module doc).

    ``forward(images)`` with (N, 1 or 3, H, W) images in [0, 1] returns
    ``embedding`` (N, 2, D), ``modality_embedding`` (N, D),
    ``degradation_embedding`` (N, D), ``modality_logits`` (N, M),
    ``degradation_logits`` (N, K) and ``logits`` (= degradation logits, the
    key other prior heads use).

    State-dict keys: ``clip.*`` and ``modality_classifier.{weight,bias}``.

    Args:
        clip_model (str | dict): open_clip name (``'ViT-B-32'``) or a tiny
            config dict.
        pretrained (str, optional): Local CLIP weight file (None = random).
        modality_classes (sequence[str]): One class per dataset / modality
            (M), in label order.
        degradation_classes (sequence[str]): Degradation classes (K), in
            label order; prompts default to
            :data:`MEDICAL_DEGRADATION_PROMPTS`.
        degradation_prompts (sequence[str], optional): One prompt per
            degradation class, overriding the defaults.
        logit_scale (float): τ of the degradation logits (100, CLIP's).
        focal_loss (dict): The modality loss (``FocalLoss``).
        degradation_loss (dict): The degradation loss (``CrossEntropyLoss``).
        freeze (bool): Freeze everything but ``trainable``.
        trainable (sequence[str]): Parts to train: ``'visual'``, ``'text'``,
            ``'modality_classifier'``.
        input_size (int, optional): CLIP input side.
        init_cfg (dict, optional): MMEngine init config.
    """

    num_prior_vectors = 2

    def __init__(self,
                 clip_model: Union[str, dict] = 'ViT-B-32',
                 pretrained: Optional[str] = None,
                 modality_classes: Sequence[str] = ('PhantomCT',
                                                    'PhantomMRI'),
                 degradation_classes: Sequence[str] = ('radial',
                                                       'cartesian'),
                 degradation_prompts: Optional[Sequence[str]] = None,
                 logit_scale: float = 100.0,
                 focal_loss: dict = dict(type='FocalLoss',
                                         loss_name='loss_modality'),
                 degradation_loss: dict = dict(
                     type='CrossEntropyLoss', loss_name='loss_degradation'),
                 freeze: bool = True,
                 trainable: Sequence[str] = ('modality_classifier', ),
                 input_size: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        self.modality_classes = tuple(modality_classes)
        self.degradation_classes = tuple(degradation_classes)
        if degradation_prompts is None:
            unknown = [c for c in self.degradation_classes
                       if c not in MEDICAL_DEGRADATION_PROMPTS]
            if unknown:
                raise KeyError(
                    f'CLIPDualPrior: no default prompt for degradation '
                    f'class(es) {unknown}; pass degradation_prompts (one per '
                    f'class) or use {list(MEDICAL_DEGRADATION_PROMPTS)}')
            degradation_prompts = [
                MEDICAL_DEGRADATION_PROMPTS[c]
                for c in self.degradation_classes
            ]
        if len(degradation_prompts) != len(self.degradation_classes):
            raise ValueError(
                f'CLIPDualPrior: {len(degradation_prompts)} prompts for '
                f'{len(self.degradation_classes)} degradation classes; give '
                'one prompt per class, in class order')
        if len(self.modality_classes) < 2:
            raise ValueError('CLIPDualPrior: modality_classes needs at least '
                             f'2 classes, got {self.modality_classes}')
        super().__init__(
            clip_model=clip_model,
            pretrained=pretrained,
            prompts=degradation_prompts,
            freeze=freeze,
            trainable=trainable,
            input_size=input_size,
            init_cfg=init_cfg)
        self.embed_dim = _clip_embed_dim(clip_model)
        self.logit_scale = float(logit_scale)
        self.modality_classifier = nn.Linear(self.embed_dim,
                                             len(self.modality_classes))
        self.focal_loss = MODELS.build(focal_loss)
        self.degradation_loss = MODELS.build(degradation_loss)
        self._apply_freeze()

    # ----------------------------------------------------------- parts
    def _extra_parts(self) -> Dict[str, List[nn.Parameter]]:
        return OrderedDict(
            modality_classifier=list(self.modality_classifier.parameters()))

    def _extra_part_modules(self) -> Dict[str, List[nn.Module]]:
        return OrderedDict(modality_classifier=[self.modality_classifier])

    # --------------------------------------------------------- forward
    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError('CLIPDualPrior expects (N, 1 or 3, H, W) images '
                             f'in [0, 1], got {tuple(images.shape)}')
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        features = self.encode_image(images).float()
        modality_logits = self.modality_classifier(features)
        image_dir = F.normalize(features, dim=-1)
        text_dir = F.normalize(self.encode_prompts().float(), dim=-1)
        degradation_logits = self.logit_scale * image_dir @ text_dir.T
        degradation_embedding = degradation_logits.softmax(-1) @ text_dir
        return dict(
            embedding=torch.stack([image_dir, degradation_embedding], dim=1),
            modality_embedding=image_dir,
            degradation_embedding=degradation_embedding,
            modality_logits=modality_logits,
            degradation_logits=degradation_logits,
            logits=degradation_logits)

    def loss(self,
             outputs: Dict[str, torch.Tensor],
             modality_labels: Optional[torch.Tensor] = None,
             degradation_labels: Optional[torch.Tensor] = None
             ) -> Dict[str, torch.Tensor]:
        """``loss_modality`` (focal, Eq. 3) and ``loss_degradation`` (CE
        over the prompt similarities) for the labels given."""
        losses = {}
        if modality_labels is not None:
            losses[self.focal_loss.loss_name] = self.focal_loss(
                outputs['modality_logits'], modality_labels)
        if degradation_labels is not None:
            losses[self.degradation_loss.loss_name] = self.degradation_loss(
                outputs['degradation_logits'], degradation_labels)
        return losses


__all__ = ['CLIPDualPrior', 'MEDICAL_DEGRADATION_PROMPTS']
