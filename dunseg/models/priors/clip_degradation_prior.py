"""CLIP degradation prior of VLU-Net (Zeng et al., CVPR 2025).

VLU-Net conditions every gradient step of its unfolding network on a
degradation vector ``d_I`` read from the degraded image by a frozen CLIP
image encoder followed by a trainable MLP adapter (paper Sec. 3.2, "CLIP
degradation extractor")::

    d_I = A_img(E_img(T(y)))                  (N, 512)
    s_c = d_I · A_txt(E_txt(prompt_c))         official: raw dot product
    s_c = τ · cos(d_I, A_txt(E_txt(prompt_c))) paper: cosine with temperature

where ``T`` is CLIP's input pipeline (bicubic resize 224, centre crop, OpenAI
mean/std), ``E_img``/``E_txt`` the frozen open_clip ViT-B-32 towers
(``laion2b_s34b_b79k`` weights), ``A_img``/``A_txt`` 3-layer MLP adapters and
the prompts one sentence per degradation class ("image with haze", ...).
The adapters are fine-tuned first with cross-entropy over ``s_c`` against the
degradation label (``CLIPAdapterClassifier``), then everything CLIP-side is
frozen while the restoration network trains.

Where the official code differs from the paper (flags reproduce it):

- The official logits are the raw dot product of the unnormalised adapted
  features, without temperature (``normalize=False``, default);
  ``normalize=True`` gives the paper's ``τ·cos`` form with a logit scale
  (learnable when ``'logit_scale'`` is trainable).
- ``net/clip.py`` (what VLU-Net runs) uses GELU in the adapters, while the
  notebook that trained the released ``clip_tuned.pth`` used LeakyReLU.
  Activations have no weights, so both load the file; ``adapter_act``
  chooses (``'gelu'`` default as VLU-Net runs it, ``'leaky_relu'`` to get
  the features the adapters were trained for).

Weights: ``pretrained`` is a local CLIP weight file and ``adapter_pretrained``
the official ``clip_tuned.pth`` (``ckpt['learnable_params']``) or a full
VLU-Net lightning checkpoint (``model_degradation.*`` keys), mapped by
:func:`convert_vlunet_clip_state_dict`. Nothing is ever downloaded.

The head is built so that other CLIP-based priors (DA-CLIP's degradation
controller) can sit next to it: :class:`CLIPPriorBase` owns the CLIP, its
input pipeline, prompt encoding with caching and per-part freezing, and
subclasses only define how an image becomes an embedding.
"""
import math
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn

from dunseg.registry import MODELS
from dunseg.utils.random_init import note_random_init

from .adapters import MLPAdapter
from .clip_builder import (
    CLIPImagePreprocess,
    build_clip_model,
    build_clip_tokenizer,
    clip_image_size,
)


class CLIPPriorBase(BaseModule):
    """Shared machinery of the CLIP prior heads.

    Holds ``self.clip`` (open_clip CLIP, state-dict keys ``clip.*`` as in
    DA-CLIP's released checkpoints), ``self.preprocess``
    (:class:`CLIPImagePreprocess`), the tokenised prompts and a cache of the
    frozen text tower's prompt features, and freezes / unfreezes named parts.

    A subclass builds its own modules, then calls ``self._apply_freeze()``
    at the end of its ``__init__``.

    Parts (names usable in ``trainable``): ``'visual'`` (CLIP image tower),
    ``'text'`` (CLIP text tower) and those a subclass adds in
    :meth:`_extra_parts`. CLIP's own ``logit_scale``/``logit_bias`` are never
    trained (the heads do not use them).

    Args:
        clip_model (str | dict): open_clip model name or config dict, see
            :func:`build_clip_model`.
        pretrained (str, optional): local CLIP weight file; None = random.
        prompts (sequence of str, optional): one text prompt per class.
        freeze (bool): freeze every part except those in ``trainable``
            (frozen parts: ``requires_grad=False`` and kept in eval mode by
            :meth:`train`). ``False`` trains everything.
        trainable (sequence of str): parts kept trainable when ``freeze``.
        input_size (int, optional): CLIP input side; None = the model's.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 clip_model: Union[str, dict] = 'ViT-B-32',
                 pretrained: Optional[str] = None,
                 prompts: Optional[Sequence[str]] = None,
                 freeze: bool = True,
                 trainable: Sequence[str] = (),
                 input_size: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.clip_model_cfg = clip_model
        self.clip = build_clip_model(clip_model, pretrained)
        if pretrained is None and isinstance(clip_model, str):
            # a named (published) CLIP without its weights file; a config
            # dict builds a small CLIP meant to start from scratch
            note_random_init(self, 'pretrained',
                             f'CLIP {clip_model} (a local open_clip file)')
        self.input_size = int(input_size or clip_image_size(self.clip))
        self.preprocess = CLIPImagePreprocess(self.input_size)
        self.prompts = tuple(prompts) if prompts is not None else None
        if self.prompts is not None:
            if len(self.prompts) == 0 or not all(
                    isinstance(p, str) for p in self.prompts):
                raise ValueError('prompts must be a non-empty sequence of '
                                 f'strings, got {prompts!r}')
            tokenizer = build_clip_tokenizer(clip_model)
            self.register_buffer(
                'prompt_tokens', tokenizer(list(self.prompts)),
                persistent=False)
        self._text_cache: Optional[torch.Tensor] = None
        self.freeze = freeze
        self.trainable = tuple(trainable)

    # ----------------------------------------------------------- parts
    def _extra_parts(self) -> Dict[str, List[nn.Parameter]]:
        """Parameters of the subclass's own parts, by part name."""
        return {}

    def _extra_part_modules(self) -> Dict[str, List[nn.Module]]:
        return {}

    def _clip_text_modules(self) -> List[nn.Module]:
        return [
            m for name, m in self.clip.named_children() if name != 'visual'
        ]

    def parts(self) -> Dict[str, List[nn.Parameter]]:
        """Part name -> its parameters."""
        visual = list(self.clip.visual.parameters())
        visual_ids = {id(p) for p in visual}
        text = [
            p for name, p in self.clip.named_parameters()
            if id(p) not in visual_ids
            and name not in ('logit_scale', 'logit_bias')
        ]
        parts = OrderedDict(visual=visual, text=text)
        parts.update(self._extra_parts())
        return parts

    def _part_modules(self) -> Dict[str, List[nn.Module]]:
        modules = OrderedDict(
            visual=[self.clip.visual], text=self._clip_text_modules())
        modules.update(self._extra_part_modules())
        return modules

    def is_trainable(self, part: str) -> bool:
        return (not self.freeze) or part in self.trainable

    def _apply_freeze(self) -> None:
        parts = self.parts()
        unknown = set(self.trainable) - set(parts)
        if unknown:
            raise ValueError(f'unknown trainable part(s) {sorted(unknown)}; '
                             f'{type(self).__name__} has {list(parts)}')
        for name in ('logit_scale', 'logit_bias'):
            param = getattr(self.clip, name, None)
            if isinstance(param, nn.Parameter):
                param.requires_grad_(False)
        for part, params in parts.items():
            for param in params:
                param.requires_grad_(self.is_trainable(part))
        self.train(self.training)

    def train(self, mode: bool = True):
        """Set the mode; frozen parts always stay in eval mode."""
        super().train(mode)
        for part, modules in self._part_modules().items():
            if not self.is_trainable(part):
                for module in modules:
                    module.eval()
        if not (self.is_trainable('visual') or self.is_trainable('text')):
            self.clip.eval()
        return self

    # ---------------------------------------------------------- encoding
    def _load_from_state_dict(self, *args, **kwargs):
        self._text_cache = None  # new weights invalidate cached prompts
        super()._load_from_state_dict(*args, **kwargs)

    def init_weights(self) -> None:
        super().init_weights()
        self._text_cache = None

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """CLIP image features of (N, 3, H, W) images in [0, 1].

        Runs under ``torch.no_grad`` when the image tower is frozen (no
        gradient flows back to the input images then).
        """
        pixels = self.preprocess(images)
        if self.is_trainable('visual'):
            return self.clip.encode_image(pixels)
        with torch.no_grad():
            return self.clip.encode_image(pixels)

    def encode_prompts(self) -> torch.Tensor:
        """Text-tower features of the prompts (P, embed_dim).

        Cached while the text tower is frozen; the cache is dropped when
        weights are loaded or re-initialised.
        """
        if self.prompts is None:
            raise RuntimeError(f'{type(self).__name__} was built without '
                               'prompts; pass prompts=(...) to get logits')
        tokens = self.prompt_tokens
        if self.is_trainable('text'):
            return self.clip.encode_text(tokens)
        cache = self._text_cache
        if cache is None or cache.device != tokens.device:
            with torch.no_grad():
                cache = self.clip.encode_text(tokens).detach()
            self._text_cache = cache
        return cache


@MODELS.register_module()
class CLIPDegradationPrior(CLIPPriorBase):
    """VLU-Net's CLIP degradation extractor: frozen CLIP + MLP adapters.

    ``forward(images)`` with images (N, 3, H, W) in [0, 1] (any size) returns
    ``dict(embedding=(N, embed_dim), logits=(N, num_prompts))`` (``logits``
    only when ``prompts`` are given). See the module docstring for the
    equations and the official-code flags.

    State-dict keys: ``clip.*`` (open_clip CLIP), ``image_adapter.{0,1,3,4,
    6,7}.*``, ``text_adapter.*`` (if ``with_text_adapter``) and
    ``logit_scale`` (if ``normalize``).

    Args:
        clip_model (str | dict): ``'ViT-B-32'`` (official) or a tiny CLIP
            config dict.
        pretrained (str, optional): local CLIP weight file (e.g. the
            ``laion2b_s34b_b79k`` open_clip file). None = random init.
        adapter_pretrained (str, optional): local ``clip_tuned.pth`` or a
            VLU-Net lightning checkpoint / converted file; its adapter keys
            (and CLIP keys when present) are loaded.
        adapter_act (str): ``'gelu'`` (``net/clip.py``) or ``'leaky_relu'``
            (the notebook that trained ``clip_tuned.pth``).
        adapter_layers (int): Linear layers per adapter. Defaults to 3.
        adapter_hidden (int, optional): adapter hidden width (embed_dim).
        prompts (sequence of str, optional): class prompts, e.g.
            ``[DEGRADATION_PROMPTS[c] for c in DEGRADATIONS_5TASK]``.
        with_text_adapter (bool): build the text adapter even without
            prompts (the official layout always has one). Defaults to True.
        freeze (bool): freeze the whole head except ``trainable``.
        trainable (sequence of str): parts to train when ``freeze``:
            ``'image_adapter'``, ``'text_adapter'``, ``'visual'``,
            ``'text'``, ``'logit_scale'``.
        input_size (int, optional): CLIP input side (224 for ViT-B-32).
        normalize (bool): cosine logits ``exp(logit_scale)·cos`` (paper)
            instead of the raw dot product (official). Defaults to False.
        logit_scale_init (float): initial ``exp(logit_scale)``, i.e. the
            temperature τ. Defaults to 1/0.07 (CLIP's initial value).
    """

    def __init__(self,
                 clip_model: Union[str, dict] = 'ViT-B-32',
                 pretrained: Optional[str] = None,
                 adapter_pretrained: Optional[str] = None,
                 adapter_act: str = 'gelu',
                 adapter_layers: int = 3,
                 adapter_hidden: Optional[int] = None,
                 prompts: Optional[Sequence[str]] = None,
                 with_text_adapter: bool = True,
                 freeze: bool = True,
                 trainable: Sequence[str] = (),
                 input_size: Optional[int] = None,
                 normalize: bool = False,
                 logit_scale_init: float = 1 / 0.07,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            clip_model=clip_model,
            pretrained=pretrained,
            prompts=prompts,
            freeze=freeze,
            trainable=trainable,
            input_size=input_size,
            init_cfg=init_cfg)
        self.embed_dim = _clip_embed_dim(clip_model)
        self.adapter_act = adapter_act
        self.image_adapter = MLPAdapter(
            self.embed_dim, adapter_hidden, adapter_layers, adapter_act)
        self.text_adapter = (
            MLPAdapter(self.embed_dim, adapter_hidden, adapter_layers,
                       adapter_act)
            if with_text_adapter or prompts is not None else None)
        if prompts is not None and self.text_adapter is None:
            raise ValueError('prompts need the text adapter')
        self.normalize = normalize
        if normalize:
            self.logit_scale = nn.Parameter(
                torch.tensor(math.log(logit_scale_init)))
        if adapter_pretrained is not None:
            self.load_official(adapter_pretrained)
        self._apply_freeze()

    # ----------------------------------------------------------- parts
    def _extra_parts(self) -> Dict[str, List[nn.Parameter]]:
        parts = OrderedDict(
            image_adapter=list(self.image_adapter.parameters()))
        if self.text_adapter is not None:
            parts['text_adapter'] = list(self.text_adapter.parameters())
        if self.normalize:
            parts['logit_scale'] = [self.logit_scale]
        return parts

    def _extra_part_modules(self) -> Dict[str, List[nn.Module]]:
        modules = OrderedDict(image_adapter=[self.image_adapter])
        if self.text_adapter is not None:
            modules['text_adapter'] = [self.text_adapter]
        return modules

    # --------------------------------------------------------- weights
    def load_official(self, filename: str) -> Tuple[List[str], List[str]]:
        """Load ``clip_tuned.pth`` / an official or converted checkpoint.

        Accepted files: the official ``clip_tuned.pth`` or lightning
        checkpoint (converted on the fly), the converter's output, or a
        dunseg checkpoint whose ``state_dict`` has ``prior.*`` keys (a
        trained ``CLIPAdapterClassifier`` or ``Restorer``).

        Every adapter tensor of this head must be in the file; CLIP tensors
        are loaded when the file has them (a full lightning checkpoint)
        and otherwise stay as built (``pretrained``).

        Returns:
            tuple: (loaded keys, keys of this head left untouched).
        """
        from dunseg.engine.checkpoint import load_weights_only
        ckpt = load_weights_only(filename, map_location='cpu')
        state = official_clip_state_dict(ckpt)
        if any(k.startswith('prior.') for k in state):
            # a dunseg model checkpoint (CLIPAdapterClassifier, Restorer):
            # keep the head's tensors only
            state = OrderedDict((k[len('prior.'):], v)
                                for k, v in state.items()
                                if k.startswith('prior.'))
        if any(k.startswith(('image_adapter.', 'text_adapter.', 'clip.'))
               for k in state):
            converted = OrderedDict(state)
        else:
            converted = convert_vlunet_clip_state_dict(state)
        own = self.state_dict()
        unexpected = [k for k in converted if k not in own]
        if unexpected:
            raise ValueError(
                f'{filename}: keys {unexpected[:5]} (of {len(unexpected)}) '
                f'are not part of {type(self).__name__}')
        needed = [k for k in own if k.startswith(('image_adapter.',
                                                  'text_adapter.'))]
        missing = [k for k in needed if k not in converted]
        if missing:
            raise KeyError(
                f'{filename} lacks adapter tensors {missing[:5]} (of '
                f'{len(missing)}); expected ckpt["learnable_params"] with '
                'ad_imageEncoder.adapter.* / ad_textEncoder.adapter.* keys')
        for key, value in converted.items():
            if tuple(value.shape) != tuple(own[key].shape):
                raise ValueError(
                    f'{filename}: {key} has shape {tuple(value.shape)} but '
                    f'the head expects {tuple(own[key].shape)}; check '
                    'clip_model / embed_dim (the official adapters are '
                    '512-d, ViT-B-32)')
        self.load_state_dict(converted, strict=False)
        untouched = [k for k in own if k not in converted]
        print_log(
            f'CLIPDegradationPrior: loaded {len(converted)} tensors from '
            f'{filename} ({len(untouched)} left as built)',
            logger='current')
        return list(converted), untouched

    # --------------------------------------------------------- forward
    def text_features(self) -> torch.Tensor:
        """Adapted prompt features (P, embed_dim)."""
        return self.text_adapter(self.encode_prompts())

    def compute_logits(self, embedding: torch.Tensor,
                       text: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            return self.logit_scale.exp() * (
                F.normalize(embedding, dim=-1) @ F.normalize(text, dim=-1).T)
        return embedding @ text.T

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        embedding = self.image_adapter(self.encode_image(images))
        out = dict(embedding=embedding)
        if self.prompts is not None:
            out['logits'] = self.compute_logits(embedding,
                                                self.text_features())
        return out


def _clip_embed_dim(clip_model: Union[str, dict]) -> int:
    if isinstance(clip_model, dict):
        return int(clip_model['embed_dim'])
    import open_clip
    return int(open_clip.get_model_config(clip_model)['embed_dim'])


# ------------------------------------------------------------ converter
_OFFICIAL_KEY = re.compile(
    r'^(?:module\.)?(?:model_degradation\.)?'
    r'(ad_imageEncoder|ad_textEncoder)\.(adapter|clip_model)\.(.+)$')
_ADAPTER_NAMES = dict(
    ad_imageEncoder='image_adapter', ad_textEncoder='text_adapter')


def official_clip_state_dict(ckpt: dict) -> dict:
    """The tensor dict inside an official file.

    ``clip_tuned.pth`` -> ``ckpt['learnable_params']``; a lightning
    checkpoint -> ``ckpt['state_dict']``; anything else is taken as a state
    dict.
    """
    if not isinstance(ckpt, dict):
        raise TypeError(f'expected a checkpoint dict, got {type(ckpt)}')
    for key in ('learnable_params', 'state_dict'):
        if key in ckpt and isinstance(ckpt[key], dict):
            return ckpt[key]
    return ckpt


def convert_vlunet_clip_state_dict(official: dict,
                                   skip_backbone: bool = True,
                                   clip_source: str = 'check'
                                   ) -> 'OrderedDict[str, torch.Tensor]':
    """Map official VLU-Net CLIP-branch keys to :class:`CLIPDegradationPrior`.

    Official layout (``net/clip.py`` ``DA_adapter`` stored under
    ``model_degradation.`` in the lightning checkpoint; without that prefix in
    ``clip_tuned.pth['learnable_params']``)::

        ad_imageEncoder.adapter.{0,1,3,4,6,7}.*  -> image_adapter.*
        ad_textEncoder.adapter.{0,1,3,4,6,7}.*   -> text_adapter.*
        ad_imageEncoder.clip_model.*              -> clip.*
        ad_textEncoder.clip_model.*               -> clip.* (same CLIP object
                                                     saved twice)

    Args:
        official (dict): the state dict (see :func:`official_clip_state_dict`).
        skip_backbone (bool): ignore ``net.*`` keys (the VLU-Net backbone,
            converted by the backbone converter). Defaults to True.
        clip_source (str): how to treat the two CLIP copies. ``'check'``
            (default) requires them to be identical (the official code
            shares one module) and raises otherwise; ``'image'`` takes the
            image-encoder copy without checking.

    Returns:
        OrderedDict: keys without a ``prior.`` prefix.

    Raises:
        ValueError: keys outside this layout (named), or CLIP copies that
            differ under ``clip_source='check'``.
    """
    if clip_source not in ('check', 'image'):
        raise ValueError("clip_source must be 'check' or 'image', got "
                         f'{clip_source!r}')
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    text_clip: Dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in official.items():
        if skip_backbone and re.match(r'^(?:module\.)?net\.', key):
            continue
        match = _OFFICIAL_KEY.match(key)
        if match is None:
            unknown.append(key)
            continue
        encoder, part, rest = match.groups()
        if part == 'adapter':
            converted[f'{_ADAPTER_NAMES[encoder]}.{rest}'] = value
        elif encoder == 'ad_imageEncoder':
            converted[f'clip.{rest}'] = value
        else:
            text_clip[f'clip.{rest}'] = value
    if unknown:
        raise ValueError(
            f'{len(unknown)} key(s) are not part of the official VLU-Net CLIP '
            f'layout: {unknown[:8]}; expected [model_degradation.]'
            'ad_{imageEncoder,textEncoder}.{adapter,clip_model}.*')
    for key, value in text_clip.items():
        if key not in converted:
            converted[key] = value  # only the text-encoder copy was stored
        elif clip_source == 'check' and not torch.equal(converted[key], value):
            raise ValueError(
                f'{key}: the ad_imageEncoder and ad_textEncoder CLIP copies '
                "differ; pass clip_source='image' to take the image copy")
    return converted


__all__ = [
    'CLIPPriorBase', 'CLIPDegradationPrior', 'convert_vlunet_clip_state_dict',
    'official_clip_state_dict'
]
