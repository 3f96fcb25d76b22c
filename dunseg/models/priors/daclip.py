"""DA-CLIP degradation prior (Luo et al., "Controlling Vision-Language
Models for Multi-Task Image Restoration", ICLR 2024; code
github.com/Algolzw/daclip-uir, ``da-clip/src/open_clip/daclip_model.py`` and
``transformer.py::ControlTransformer``).

DA-CLIP keeps a pretrained CLIP frozen and trains an *image controller*: a
copy of CLIP's vision tower whose transformer blocks each emit a hidden
state through a zero-initialised ``Linear(width, width)``::

    z_0 = embed_c(x)                       controller (trainable copy)
    z_l = block^c_l(z_{l-1}),   h_l = Zero_l(z_l)          l = 1..L
    e_degra = proj_c(ln_post_c(z_L[cls]))  degradation embedding

    u_0 = embed(x)                         frozen CLIP vision tower
    u_l = block_l(u_{l-1}) + h_{L+1-l}     (control.pop(): LIFO order)
    e_content = proj(ln_post(u_L[cls]))    clean-content embedding

The controller's own residual stream is *not* changed by its hiddens
(``# x = x + zx`` is commented out in the official code), and the hiddens
reach the frozen tower in reverse order: the official ``Transformer.forward``
adds ``control.pop()`` after each block, so the last controller block's
hidden goes to the first CLIP block. With zero-initialised linears the
content embedding starts as CLIP's own image embedding.

Zero-shot degradation recognition (the official evaluation)::

    p = softmax(100 · norm(e_degra) · norm(E_txt(words))ᵀ)

with DA-CLIP's ten degradation words (:data:`DACLIP_DEGRADATIONS`) as the
default prompts. Training (:class:`~dunseg.models.losses.DACLIPLoss`) is CLIP's
contrastive loss twice with one learnable ``logit_scale``: content embedding
vs caption, degradation embedding vs degradation word.

State-dict keys: ``clip.*`` (the open_clip CLIP, frozen), ``controller.*``
(the copied vision tower, open_clip ``VisionTransformer`` layout),
``zero_linears.{0..L-1}.{weight,bias}`` and ``logit_scale``.
:func:`convert_daclip_state_dict` maps the official layout
(``visual_control.transformer.transformer.*``,
``visual_control.transformer.zero_modules.*``, the duplicate ``visual.*``) to
it. Weights come from local files only: ``pretrained`` (a CLIP checkpoint;
the controller starts as a copy of it, DA-CLIP's ``initial_controller``) or
``daclip_pretrained`` (a DA-CLIP checkpoint, official or converted).

Departure from the official code: ``ControlTransformer`` calls ``.cuda()``
in its constructor (Algolzw/daclip-uir, issue #21 / PR #22); here
everything stays on the device the module is moved to.

As a NUN / VLU-Net prior (the prior-slot contract, ``docs/
priors_and_selectors.md``): ``forward(images)`` with (N, 3, H, W) images in
[0, 1] returns a dict whose ``'embedding'`` is the degradation vector
(N, ``embed_dim``); :class:`CLIPDegradationPrior` returns the same key, so a
config swaps one for the other by its ``type``.
"""
import copy
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import nn

from dunseg.registry import MODELS
from dunseg.utils.random_init import clear_random_init, note_random_init

from .clip_builder import build_clip_tokenizer
from .clip_degradation_prior import CLIPPriorBase, _clip_embed_dim

#: DA-CLIP's degradation vocabulary (the ten words of its training captions,
#: ``universal-image-restoration/config/daclip-sde/options/test.yml``).
DACLIP_DEGRADATIONS = ('motion-blurry', 'hazy', 'jpeg-compressed',
                       'low-light', 'noisy', 'raindrop', 'rainy',
                       'shadowed', 'snowy', 'uncompleted')

#: Temperature of DA-CLIP's zero-shot degradation probabilities.
ZERO_SHOT_SCALE = 100.0


@MODELS.register_module()
class DACLIPPrior(CLIPPriorBase):
    """Frozen CLIP + DA-CLIP's image controller (see the module docstring).

    ``forward(images)`` returns ``dict(embedding=(N, E), content=(N, E),
    logits=(N, P), probs=(N, P))``: the degradation embedding (the prior
    vector), the clean-content embedding, and (with prompts) the zero-shot
    logits ``100·cos`` and their softmax. Embeddings are unnormalised, as
    ``DaCLIP.encode_image(control=True)`` returns them.

    Args:
        clip_model (str | dict): open_clip model name (``'ViT-B-32'`` for
            ``daclip_ViT-B-32``) or a tiny CLIP config dict (ViT towers only:
            the controller copies ``clip.visual``'s transformer blocks).
        pretrained (str, optional): local CLIP weight file; the controller is
            initialised as a copy of the loaded tower. None = random init.
        daclip_pretrained (str, optional): local DA-CLIP checkpoint, the
            official ``daclip_ViT-B-32.pt`` (converted on the fly) or the
            output of ``tools/model_converters/daclip2dunseg.py``; loaded
            with ``strict=True``.
        prompts (sequence of str, optional): degradation words / prompts
            for the zero-shot probabilities. Defaults to
            :data:`DACLIP_DEGRADATIONS`; pass ``()`` for none.
        freeze (bool): freeze every part except ``trainable``.
        trainable (sequence of str): parts to train: ``'controller'``
            (the tower copy and the zero linears), ``'logit_scale'``,
            ``'visual'``, ``'text'``. DA-CLIP trains the first two.
        input_size (int, optional): CLIP input side; None = the tower's.
        zero_shot_scale (float): logit multiplier of the zero-shot
            probabilities (100, DA-CLIP's evaluation).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 clip_model: Union[str, dict] = 'ViT-B-32',
                 pretrained: Optional[str] = None,
                 daclip_pretrained: Optional[str] = None,
                 prompts: Optional[Sequence[str]] = DACLIP_DEGRADATIONS,
                 freeze: bool = True,
                 trainable: Sequence[str] = (),
                 input_size: Optional[int] = None,
                 zero_shot_scale: float = ZERO_SHOT_SCALE,
                 init_cfg: Optional[dict] = None) -> None:
        prompts = tuple(prompts) if prompts else None
        super().__init__(
            clip_model=clip_model,
            pretrained=pretrained,
            prompts=prompts,
            freeze=freeze,
            trainable=trainable,
            input_size=input_size,
            init_cfg=init_cfg)
        visual = self.clip.visual
        blocks = getattr(getattr(visual, 'transformer', None), 'resblocks',
                         None)
        if blocks is None or not hasattr(visual, '_embeds'):
            raise TypeError(
                f'DACLIPPrior needs a ViT image tower (open_clip '
                f'VisionTransformer), got {type(visual).__name__}; use a '
                "'ViT-*' model or a vision_cfg with layers/width/patch_size")
        self.embed_dim = _clip_embed_dim(clip_model)
        self.zero_shot_scale = float(zero_shot_scale)
        # DaCLIP.__init__ + initial_controller: the controller starts as an
        # exact copy of the (pretrained) frozen tower.
        self.controller = copy.deepcopy(visual)
        width = visual.transformer.width
        self.zero_linears = nn.ModuleList(
            nn.Linear(width, width) for _ in range(len(blocks)))
        for linear in self.zero_linears:
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)
        # DaCLIP keeps its own copy of CLIP's logit scale for training.
        self.logit_scale = nn.Parameter(
            self.clip.logit_scale.detach().clone())
        if daclip_pretrained is not None:
            self.load_daclip(daclip_pretrained)
            clear_random_init(self)  # the DA-CLIP file holds CLIP too
        elif pretrained is None and isinstance(clip_model, str):
            note_random_init(self, 'daclip_pretrained',
                             f'DA-CLIP {clip_model} (daclip_{clip_model}.pt '
                             'or a converted file)')
        self._apply_freeze()

    # ----------------------------------------------------------- parts
    def _extra_parts(self) -> Dict[str, List[nn.Parameter]]:
        return OrderedDict(
            controller=list(self.controller.parameters()) +
            list(self.zero_linears.parameters()),
            logit_scale=[self.logit_scale])

    def _extra_part_modules(self) -> Dict[str, List[nn.Module]]:
        return OrderedDict(controller=[self.controller, self.zero_linears])

    # --------------------------------------------------------- weights
    def load_daclip(self, filename: str) -> None:
        """Load a local DA-CLIP checkpoint with ``strict=True``.

        Accepts the official file (``state_dict`` or a bare state dict,
        optionally ``module.``-prefixed), the converter's output and dunseg
        model checkpoints whose head keys are ``prior.*``.
        """
        from dunseg.engine.checkpoint import load_weights_only
        ckpt = load_weights_only(filename, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) \
            else ckpt
        if not isinstance(state, dict):
            raise TypeError(f'{filename}: expected a state dict, got '
                            f'{type(state).__name__}')
        if any(k.startswith('prior.') for k in state):
            state = OrderedDict((k[len('prior.'):], v)
                                for k, v in state.items()
                                if k.startswith('prior.'))
        if any(k.startswith('visual_control.') or
               k.startswith('module.visual_control.') for k in state):
            state = convert_daclip_state_dict(state)
        own = self.state_dict()
        for key, value in state.items():
            if key in own and tuple(value.shape) != tuple(own[key].shape):
                raise ValueError(
                    f'{filename}: {key} has shape {tuple(value.shape)} but '
                    f'the prior expects {tuple(own[key].shape)}; build the '
                    'prior with the clip_model the checkpoint was trained '
                    "with ('ViT-B-32' for daclip_ViT-B-32)")
        self.load_state_dict(state, strict=True)
        print_log(f'DACLIPPrior: loaded {len(state)} tensors from {filename}',
                  logger='current')

    # --------------------------------------------------------- forward
    @staticmethod
    def _blocks_forward(tower: nn.Module, pixels: torch.Tensor,
                        block_hook) -> torch.Tensor:
        """open_clip ``VisionTransformer.forward`` with a hook after each
        block (``x = block_hook(l, x)``); returns the projected pooled
        embedding."""
        x = tower._embeds(pixels)
        transformer = tower.transformer
        batch_first = getattr(transformer, 'batch_first', True)
        if not batch_first:
            x = x.transpose(0, 1)
        for index, block in enumerate(transformer.resblocks):
            x = block_hook(index, block(x))
        if not batch_first:
            x = x.transpose(0, 1)
        pooled, _ = tower._pool(x)
        if tower.proj is not None:
            pooled = pooled @ tower.proj
        return pooled

    def encode_image_control(self, pixels: torch.Tensor
                             ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(content, degradation) embeddings of CLIP-normalised pixels,
        ``DaCLIP.encode_image(control=True, normalize=False)``."""
        hiddens: List[torch.Tensor] = []

        def collect(index: int, x: torch.Tensor) -> torch.Tensor:
            hiddens.append(self.zero_linears[index](x))
            return x  # the controller's own stream is left unchanged

        degradation = self._blocks_forward(self.controller, pixels, collect)

        def inject(index: int, x: torch.Tensor) -> torch.Tensor:
            return x + hiddens.pop()  # LIFO, as control.pop() officially

        content = self._blocks_forward(self.clip.visual, pixels, inject)
        return content, degradation

    def encode_text_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Text-tower features of tokenised text (captions, words); no
        gradient while the text tower is frozen."""
        if self.is_trainable('text'):
            return self.clip.encode_text(tokens)
        with torch.no_grad():
            return self.clip.encode_text(tokens)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids of ``texts`` for this CLIP (on the module's device)."""
        if not hasattr(self, '_tokenizer'):
            self._tokenizer = build_clip_tokenizer(self.clip_model_cfg)
        # non-blocking: the host does not wait for the device's queue
        return self._tokenizer(list(texts)).to(self.logit_scale.device,
                                               non_blocking=True)

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        pixels = self.preprocess(images)
        if self.is_trainable('controller') or self.is_trainable('visual'):
            content, degradation = self.encode_image_control(pixels)
        else:
            with torch.no_grad():
                content, degradation = self.encode_image_control(pixels)
        out = dict(embedding=degradation, content=content)
        if self.prompts is not None:
            text = F.normalize(self.encode_prompts(), dim=-1)
            logits = self.zero_shot_scale * (
                F.normalize(degradation, dim=-1) @ text.T)
            out.update(logits=logits, probs=logits.softmax(dim=-1))
        return out


# ------------------------------------------------------------ converter
def convert_daclip_state_dict(official: dict,
                              shared_visual: str = 'check'
                              ) -> 'OrderedDict[str, torch.Tensor]':
    """Map an official DA-CLIP state dict to :class:`DACLIPPrior` keys.

    Official layout (``DaCLIP`` of daclip-uir; manifest
    ``daclip_vit-b-32.json``: 631 tensors, 246,213,634 parameters)::

        clip.*                                    -> clip.*
        visual.* (clip.visual saved a second time) -> dropped (checked)
        visual_control.transformer.transformer.*  -> controller.transformer.*
        visual_control.transformer.zero_modules.N.* -> zero_linears.N.*
        visual_control.* (conv1, embeddings, ln, proj) -> controller.*
        logit_scale                               -> logit_scale

    A ``module.`` prefix (DDP) is stripped.

    Args:
        official (dict): the state dict.
        shared_visual (str): ``'check'`` (default) requires every
            ``visual.*`` tensor to equal its ``clip.visual.*`` twin;
            ``'ignore'`` drops them unchecked.

    Raises:
        ValueError: keys outside this layout (named, with the count), or a
            ``visual.*`` tensor that differs from ``clip.visual.*``.
    """
    if shared_visual not in ('check', 'ignore'):
        raise ValueError("shared_visual must be 'check' or 'ignore', got "
                         f'{shared_visual!r}')
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    duplicates: Dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in official.items():
        name = key[len('module.'):] if key.startswith('module.') else key
        if name.startswith('clip.') or name == 'logit_scale':
            converted[name] = value
        elif name.startswith('visual.'):
            duplicates['clip.' + name] = value
        elif name.startswith('visual_control.transformer.transformer.'):
            rest = name[len('visual_control.transformer.transformer.'):]
            converted['controller.transformer.' + rest] = value
        elif name.startswith('visual_control.transformer.zero_modules.'):
            rest = name[len('visual_control.transformer.zero_modules.'):]
            converted['zero_linears.' + rest] = value
        elif name.startswith('visual_control.'):
            converted['controller.' + name[len('visual_control.'):]] = value
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(
            f'{len(unknown)} key(s) are not part of the official DA-CLIP '
            f'layout: {unknown[:8]}; expected clip.*, visual.*, '
            'visual_control.* and logit_scale')
    for key, value in duplicates.items():
        if key not in converted:
            converted[key] = value  # only the alias was stored
        elif shared_visual == 'check' and not torch.equal(
                converted[key], value):
            raise ValueError(
                f'{key[len("clip."):]} differs from {key}: the official '
                'checkpoint stores the one frozen CLIP tower under both '
                "names; pass shared_visual='ignore' to keep clip.visual.*")
    return converted


__all__ = [
    'DACLIPPrior', 'DACLIP_DEGRADATIONS', 'ZERO_SHOT_SCALE',
    'convert_daclip_state_dict'
]
