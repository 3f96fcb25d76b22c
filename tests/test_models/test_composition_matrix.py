"""Every composition the component contracts allow, built and run once.

Axes (docs/components.md): architecture + unfolding backbone (``FAMILIES``),
prior head (``PRIORS``), selector (``SELECTORS``) and head (each family's
``heads``). A combination is either built from a config dict at tiny size
and run (one training step: loss + backward; one inference), or listed in
``EXCLUDED`` with the reason the contracts do not allow it. Nothing is
left out silently: ``test_the_matrix_is_total`` checks that every
(family, axis, value) is supported or excluded, never both.

The fast tier runs every supported value of every axis once per family
(``fast_combinations``); the other combinations are ``slow``.
``python -m tests.test_models.test_composition_matrix`` prints the table
of docs/components.md from these structures.
"""
import importlib.util
import itertools
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import pytest
import torch

from dunseg.registry import MODELS
from dunseg.utils import register_all_modules

from .test_registry_smoke import (
    ENCODER_CHANNELS,
    TINY_CLIP,
    TINY_ENCODER,
    TINY_VLDUN,
    TINY_VLUNET,
    TINY_VSS,
    cod_batch,
    istd_batch,
    nun_batch,
    phantom_batch,
    restoration_batch,
)

register_all_modules()

PRIOR_DIM = TINY_CLIP['embed_dim']
PYIQA = importlib.util.find_spec('pyiqa') is not None

# ---- the axes ---------------------------------------------------------------

#: Prior heads (what the prior slot receives, docs/components.md).
PRIORS = {
    'clip': 'CLIP degradation prior (VLU-Net): CLIPDegradationPrior, (N, E)',
    'daclip': 'DA-CLIP: DACLIPPrior, (N, E) degradation embedding',
    'dual': "CLIP dual prior (VL-DUN): CLIPDualPrior, (N, 2, E)",
    'implicit': 'no prior head; the backbone learns its own conditioning',
    'none': 'no prior head and no conditioning',
}
#: Selectors over candidate restorations.
SELECTORS = {
    'learned': 'LearnedQualitySelector (no reference)',
    'input-aware': 'InputAwareQualitySelector (reads the degraded input)',
    'iqa': 'PyIQASelector(topiq_nr) with random weights (needs pyiqa)',
    'last': 'LastSelector',
    'oracle': 'OracleSelector (reads the clean image)',
    'none': 'no selector: the backbone output / last iterate',
}


def prior_head(kind: str) -> Optional[dict]:
    """The tiny prior head of ``kind`` (None for implicit / none)."""
    if kind == 'clip':
        return dict(type='CLIPDegradationPrior', clip_model=TINY_CLIP,
                    input_size=32, prompts=('noisy image', 'hazy image'))
    if kind == 'daclip':
        return dict(type='DACLIPPrior', clip_model=TINY_CLIP, input_size=32,
                    prompts=())
    if kind == 'dual':
        return dict(type='CLIPDualPrior', clip_model=TINY_CLIP, input_size=32)
    return None


def vector_prior(kind: str) -> Optional[dict]:
    """A prior head for a (N, prior_dim) slot: the dual prior's degradation
    vector through ``PriorEmbeddingAdapter``, the others as they are."""
    head = prior_head(kind)
    if kind == 'dual':
        return dict(type='PriorEmbeddingAdapter', head=head, reduce=1)
    return head


def selector_cfg(kind: str) -> Optional[dict]:
    return {
        'learned': dict(type='LearnedQualitySelector'),
        'input-aware': dict(type='InputAwareQualitySelector'),
        'iqa': dict(type='PyIQASelector', metric='topiq_nr',
                    allow_random_init=True),
        'last': dict(type='LastSelector'),
        'oracle': dict(type='OracleSelector'),
        'none': None,
    }[kind]


# ---- the families (architecture x unfolding backbone) -----------------------


class Family(NamedTuple):
    """One architecture with one unfolding backbone.

    build(prior, selector, head) -> model config; batch() -> a batch;
    heads: head name -> description; default: (prior, selector, head) of
    the fast tier; prior_params: a name fragment of the backbone
    parameters that read the prior vector (checked to get a gradient).
    """
    build: Callable[[str, str, str], dict]
    batch: Callable[[], dict]
    heads: Dict[str, str]
    default: Tuple[str, str, str]
    prior_params: str
    check: Optional[Callable] = None


TINY_DERUN = dict(type='DeRUN', prior_dim=PRIOR_DIM, operator_channels=4,
                  prox_channels=4, prox_blocks=1, cue_channels=4)


def nun(inner: str):

    def build(prior, selector, head):
        if inner == 'derun':
            inner_cfg = dict(TINY_DERUN, prior_dim=None if prior in (
                'implicit', 'none') else PRIOR_DIM)
        else:
            inner_cfg = dict(type='VLUNetInnerRestorer', cue_channels=4,
                             backbone=dict(TINY_VLUNET,
                                           use_prior=prior != 'none'))
        return dict(
            type='NUNSegmentor', encoder=TINY_ENCODER,
            backbone=dict(type='NUN', in_channels=ENCODER_CHANNELS,
                          channels=16, inner_iterations=(2, 1),
                          inner_cfg=inner_cfg, vss_cfg=TINY_VSS,
                          background_channels=4),
            prior=vector_prior(prior), selector=selector_cfg(selector))

    def check(predictions, batch):
        assert len(predictions[0].selected_iterates) == 2

    return build, check


def restorer(selection: bool):

    def build(prior, selector, head):
        cfg = dict(type='StageSelectionRestorer' if selection else 'Restorer',
                   backbone=dict(TINY_VLUNET, use_prior=prior != 'none'),
                   prior=vector_prior(prior))
        if selection:
            cfg.update(selector=selector_cfg(selector), num_candidates=3)
        return cfg

    def check(predictions, batch):
        assert predictions[0].pred_image.data.shape == (3, 32, 32)
        if selection:
            assert predictions[0].selected_stage in (
                'decoder_level1', 'refinement', 'decoder_level2')

    return build, check


def joint_vldun(prior, selector, head):
    backbone = dict(TINY_VLDUN, use_prior=prior != 'implicit',
                    physical_operator=prior == 'none')
    return dict(
        type='JointRestorerSegmentor', backbone=backbone,
        prior=prior_head(prior),
        seg_head=dict(type='VLDUNSegHead', num_classes=4, channels=8)
        if head == 'seg-head' else None)


def joint_check(predictions, batch):
    assert predictions[0].pred_image.data.shape == (1, 16, 16)


def rpca(prior, selector, head):
    unfolding = dict(type='RPCANetPlus', num_stages=2, channels=8)
    backbone = unfolding if prior == 'none' else dict(
        type='PriorModulatedRPCA', unfolding=unfolding, prior_dim=PRIOR_DIM)
    return dict(
        type='PriorUnfoldingSegmentor',
        data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
        backbone=backbone, prior=vector_prior(prior),
        decode_head=dict(type='StateMaskHead', state_key='T'),
        reconstruction_loss=dict(type='MSELoss', loss_weight=0.1))


def cod(decoder: str):

    def build(prior, selector, head):
        backbone = dict(type='RUN', in_channels=ENCODER_CHANNELS,
                        channels=16, sparsity_channels=8, vss_cfg=TINY_VSS)
        if decoder == 'fpn':
            # one state, the decoder's mask: no edge or stage losses
            return dict(type='CODSegmentor', encoder=TINY_ENCODER,
                        backbone=dict(type='FPNMaskDecoder',
                                      in_channels=ENCODER_CHANNELS,
                                      channels=8),
                        stage_loss_weights=(1, ), edge_loss=None,
                        edge_loss_weights=(0, ),
                        reconstruction_loss_weights=(0, ))
        return dict(type='CODSegmentor', encoder=TINY_ENCODER,
                    backbone=backbone)

    return build


_nun_derun, _nun_check = nun('derun')
_nun_vlunet, _ = nun('vlunet')
_restorer, _restorer_check = restorer(False)
_selecting, _selecting_check = restorer(True)

FAMILIES = {
    'NUNSegmentor/NUN+DeRUN': Family(
        _nun_derun, nun_batch, {'mask-proximal': "NUN's own mask read-out"},
        ('daclip', 'learned', 'mask-proximal'), 'linear_sigma', _nun_check),
    'NUNSegmentor/NUN+VLUNetInnerRestorer': Family(
        _nun_vlunet, nun_batch, {'mask-proximal': "NUN's own mask read-out"},
        ('daclip', 'learned', 'mask-proximal'), 'gradient_descent.linear',
        _nun_check),
    'Restorer/VLUNet': Family(
        _restorer, restoration_batch, {'image': 'the restored image'},
        ('clip', 'none', 'image'), 'gradient_descent.linear',
        _restorer_check),
    'StageSelectionRestorer/VLUNet': Family(
        _selecting, restoration_batch,
        {'image': 'the chosen stage image'},
        ('clip', 'input-aware', 'image'), 'gradient_descent.linear',
        _selecting_check),
    'JointRestorerSegmentor/VLDUN': Family(
        joint_vldun, lambda: phantom_batch(size=16),
        {'seg-head': 'VLDUNSegHead + Rec. Head',
         'none': 'Rec. Head only (seg_head=None)'},
        ('dual', 'none', 'seg-head'), 'to_tokens', joint_check),
    'PriorUnfoldingSegmentor/RPCANetPlus': Family(
        rpca, lambda: istd_batch(size=32),
        {'state-mask': "StateMaskHead on T (RPCANet's read-out)"},
        ('clip', 'none', 'state-mask'), 'modulations'),
    'CODSegmentor/RUN': Family(
        cod('run'), cod_batch,
        {'mask-proximal': "RUN's own mask read-out"},
        ('none', 'none', 'mask-proximal'), ''),
    'CODSegmentor/FPNMaskDecoder': Family(
        cod('fpn'), cod_batch,
        {'fpn': 'FPN mask decoder (a non-unfolding baseline)'},
        ('none', 'none', 'fpn'), ''),
}

# ---- what the contracts exclude, and why ------------------------------------

NO_SELECTION = {
    'Restorer/VLUNet':
    'Restorer returns its final stage; selecting among stages is '
    'StageSelectionRestorer',
    'JointRestorerSegmentor/VLDUN':
    'the segmentation head reads the final stage features, so there is no '
    'image choice to make (selection over VL-DUN stages: '
    'StageSelectionRestorer)',
    'PriorUnfoldingSegmentor/RPCANetPlus':
    "RPCA stages' states are a background, a target mask and noise, not "
    'candidate restorations a quality selector could score',
    'CODSegmentor/RUN':
    'RUN restores nothing: its stages are masks and backgrounds of the '
    'input image',
    'CODSegmentor/FPNMaskDecoder':
    'one-shot decoder: no iterates',
}
NO_PRIOR = {
    'CODSegmentor/RUN':
    "RUN's steps take no degradation vector (CODSegmentor has no prior "
    'slot); the prior-conditioned COD model is NUN',
    'CODSegmentor/FPNMaskDecoder':
    'a plain encoder-decoder baseline: no prior slot',
}
NO_IMPLICIT = {
    'NUNSegmentor/NUN+VLUNetInnerRestorer':
    "VLU-Net has no learned degradation prompt: use_prior=False averages "
    "its key database uniformly, which is 'none'",
    'Restorer/VLUNet':
    "VLU-Net has no learned degradation prompt ('none' is use_prior=False)",
    'StageSelectionRestorer/VLUNet':
    "VLU-Net has no learned degradation prompt ('none' is use_prior=False)",
    'PriorUnfoldingSegmentor/RPCANetPlus':
    'RPCANet+ has no learned degradation conditioning',
}

EXCLUDED: Dict[Tuple[str, str, str], str] = {}
for _family, _reason in NO_SELECTION.items():
    for _selector in SELECTORS:
        if _selector != 'none':
            EXCLUDED[(_family, 'selector', _selector)] = _reason
for _family, _reason in NO_PRIOR.items():
    for _prior in ('clip', 'daclip', 'dual', 'implicit'):
        EXCLUDED[(_family, 'prior', _prior)] = _reason
for _family, _reason in NO_IMPLICIT.items():
    EXCLUDED[(_family, 'prior', 'implicit')] = _reason
EXCLUDED[('NUNSegmentor/NUN+DeRUN', 'prior', 'none')] = (
    "DeRUN has no unconditioned variant: without a prior its σ, μ are "
    "learned constants, which is 'implicit'")


def supported(family: str, axis: str, value: str) -> bool:
    return (family, axis, value) not in EXCLUDED


def supported_values(name: str):
    """The supported priors, selectors and heads of a family."""
    return ([p for p in PRIORS if supported(name, 'prior', p)],
            [s for s in SELECTORS if supported(name, 'selector', s)],
            list(FAMILIES[name].heads))


def fast_combinations(name: str):
    """A few combinations that run every supported value of every axis
    once: the family's default, then the values paired off in order. The
    IQA selector (skipped without pyiqa) runs with the defaults only, so
    its skip leaves no other value untested."""
    family = FAMILIES[name]
    axes = [sorted(values, key=lambda v: v != default)
            for values, default in zip(supported_values(name),
                                       family.default)]
    chosen = set()
    if 'iqa' in axes[1]:
        axes[1].remove('iqa')
        chosen.add((family.default[0], 'iqa', family.default[2]))
    chosen.update(
        tuple(values[i % len(values)] for values in axes)
        for i in range(max(len(values) for values in axes)))
    return chosen


def combinations(fast: bool):
    for name in FAMILIES:
        chosen = fast_combinations(name)
        for combo in itertools.product(*supported_values(name)):
            if (combo in chosen) == fast:
                yield (name, ) + combo


def params(fast: bool):
    marks = () if fast else (pytest.mark.slow, )
    return [
        pytest.param(*combo, marks=marks, id='-'.join(combo))
        for combo in combinations(fast)
    ]


# ---- the tests ---------------------------------------------------------


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_matrix_is_total():
    axes = dict(prior=PRIORS, selector=SELECTORS)
    for name, family in FAMILIES.items():
        assert supported(name, 'prior', family.default[0]), name
        assert supported(name, 'selector', family.default[1]), name
        assert family.default[2] in family.heads, name
        for axis, values in axes.items():
            assert any(supported(name, axis, v) for v in values), (name, axis)
    for (name, axis, value), reason in EXCLUDED.items():
        assert name in FAMILIES and axis in ('prior', 'selector', 'head')
        assert value in {**PRIORS, **SELECTORS, **FAMILIES[name].heads}
        assert reason and len(reason) > 20, (name, axis, value)
    fast = list(combinations(True))
    slow = list(combinations(False))
    assert not set(fast) & set(slow)
    # every supported value of every axis runs in the fast tier
    for name, family in FAMILIES.items():
        for axis, index, values in (('prior', 1, PRIORS),
                                    ('selector', 2, SELECTORS),
                                    ('head', 3, family.heads)):
            for value in values:
                if supported(name, axis, value):
                    assert any(c[0] == name and c[index] == value
                               for c in fast), (name, axis, value)


def run_combination(name, prior, selector, head):
    if selector == 'iqa' and not PYIQA:
        pytest.skip('PyIQASelector needs pyiqa (requirements/iqa.txt)')
    family = FAMILIES[name]
    torch.manual_seed(0)
    model = MODELS.build(family.build(prior, selector, head))
    model.train()
    torch.manual_seed(1)
    data = model.data_preprocessor(family.batch(), True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss), losses
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()
             if p.requires_grad}
    assert any(g is not None for g in grads.values()), name
    for n, g in grads.items():
        assert g is None or torch.isfinite(g).all(), n
    if prior in ('clip', 'daclip', 'dual'):
        # the prior vector reaches the backbone parameters that read it
        readers = [n for n in grads if family.prior_params in n
                   and n.startswith('backbone.')]
        assert readers, (name, family.prior_params)
        assert any(grads[n] is not None and grads[n].abs().sum() > 0
                   for n in readers), (name, readers)
    model.eval()
    batch = family.batch()
    with torch.no_grad():
        predictions = model(**model.data_preprocessor(batch, False),
                            mode='predict')
    assert len(predictions) == len(batch['data_samples'])
    for sample in predictions:
        for key in ('pred_score', 'pred_image'):
            if key in sample:
                assert torch.isfinite(getattr(sample, key).data).all(), key
    if family.check is not None:
        family.check(predictions, batch)


@pytest.mark.parametrize('name,prior,selector,head', params(fast=True))
def test_composition(name, prior, selector, head):
    run_combination(name, prior, selector, head)


@pytest.mark.parametrize('name,prior,selector,head', params(fast=False))
def test_composition_long_tail(name, prior, selector, head):
    run_combination(name, prior, selector, head)


def markdown_table() -> str:
    """The support table of docs/components.md."""
    lines = ['| architecture / backbone | ' + ' | '.join(
        f'prior: {p}' for p in PRIORS) + ' | ' + ' | '.join(
            f'selector: {s}' for s in SELECTORS) + ' | heads |',
             '|---' * (2 + len(PRIORS) + len(SELECTORS)) + '|']
    for name, family in FAMILIES.items():
        cells = [('yes' if supported(name, 'prior', p) else 'no')
                 for p in PRIORS]
        cells += [('yes' if supported(name, 'selector', s) else 'no')
                  for s in SELECTORS]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' | ' +
                     ', '.join(family.heads) + ' |')
    lines.append('')
    groups: Dict[Tuple[str, str, str], list] = {}
    for (name, axis, value), reason in EXCLUDED.items():
        groups.setdefault((name, axis, reason), []).append(value)
    for (name, axis, reason), values in groups.items():
        lines.append(f'- {name}, {axis} {", ".join(values)}: {reason}.')
    return '\n'.join(lines)


if __name__ == '__main__':
    print(markdown_table())
