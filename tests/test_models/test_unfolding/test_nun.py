"""NUN's nested unfolding (dunseg.models.unfolding.nun)."""
import pytest
import torch

from dunseg.models.encoders import ResNetEncoder
from dunseg.models.selectors import LastSelector, OracleSelector
from dunseg.models.unfolding.nun import (
    NUN,
    background_gradient_step,
    mask_gradient_step,
)


def test_sodun_gradient_steps():
    mask, background = torch.full((1, 1, 2, 2), 0.5), torch.zeros(1, 3, 2, 2)
    restored = torch.ones(1, 3, 2, 2)
    # d/dM ½||X − X M − B||² = X (X M + B − X) = 1 * (0.5 − 1) = −0.5
    torch.testing.assert_close(
        mask_gradient_step(mask, background, restored, torch.tensor(0.2)),
        torch.full((1, 1, 2, 2), 0.6))
    # d/dB = B + X M − X = −0.5
    torch.testing.assert_close(
        background_gradient_step(mask, background, restored,
                                 torch.tensor(0.2)),
        torch.full((1, 3, 2, 2), 0.1))


def _nun(**kwargs):
    cfg = dict(in_channels=(8, 16, 32, 64), channels=16,
               inner_iterations=(3, 2),
               inner_cfg=dict(type='DeRUN', prior_dim=None,
                              operator_channels=4, prox_channels=4,
                              prox_blocks=1, cue_channels=4),
               vss_cfg=dict(type='VSSBlock', d_state=4, expand=1.0),
               background_channels=4)
    cfg.update(kwargs)
    return NUN(**cfg)


class CountingEncoder(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.net = ResNetEncoder(depth=18, base_channels=8)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


@pytest.mark.parametrize('mode,calls', [('none', 1),
                                        ('first_restoration', 2),
                                        ('every_stage', 2)])
def test_nun_states_selection_and_restored_features(mode, calls):
    torch.manual_seed(0)
    nun = _nun(restored_features=mode)
    for p in nun.inner.parameters():  # DeRUN iterates that differ
        p.data.add_(0.05 * torch.randn_like(p))
    encoder = CountingEncoder()
    image = torch.rand(2, 3, 32, 32)
    clean = image * 0.9
    states = nun(image, encoder, selector=OracleSelector(), reference=clean,
                 with_second_best=True)
    assert encoder.calls == calls
    assert [s.keys() >= {'mask', 'background', 'image'} for s in states]
    assert len(states) == 3  # M_0 + K = 2 stages
    first, second = states[1], states[2]
    assert first['iterates'].shape == (2, 3, 3, 32, 32)
    assert second['iterates'].shape == (2, 2, 3, 32, 32)
    assert 'mask_second' not in first and \
        second['mask_second'].shape == second['mask'].shape
    # the oracle's choice: the iterate closest to the clean image
    errors = ((first['iterates'] - clean[:, None])**2).mean(dim=(2, 3, 4))
    # the oracle sums the errors in its own order: compare the chosen
    # iterate's error with the minimum, not the argmin (a near-tie could
    # flip under another summation order)
    chosen = errors.gather(1, first['selected'][:, None])[:, 0]
    torch.testing.assert_close(chosen, errors.min(dim=1).values,
                               rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(
        first['image'], first['iterates'][torch.arange(2),
                                          first['selected']])
    states = nun(image, encoder, selector=LastSelector())
    assert (states[1]['selected'] == 2).all()
    assert states[2]['mask'].shape == (2, 1, 32, 32)


def _derun_grad_norms(nun, loss_of):
    torch.manual_seed(1)
    encoder = ResNetEncoder(depth=18, base_channels=8)
    image = torch.rand(2, 3, 32, 32)
    states = nun(image, encoder, selector=LastSelector(),
                 with_second_best=True)
    nun.zero_grad()
    loss_of(states).backward()
    return [
        0.0 if p.grad is None else p.grad.abs().sum().item()
        for p in nun.inner.parameters()
    ], states


@pytest.mark.slow
@pytest.mark.parametrize('detach', [False, True])
def test_detach_restoration_cuts_only_the_segmentation_gradient(detach):
    torch.manual_seed(0)
    nun = _nun(detach_restoration=detach)
    for p in nun.inner.parameters():  # non-identity DeRUN iterates
        p.data.add_(0.05 * torch.randn_like(p))
    mask_grads, states = _derun_grad_norms(
        nun, lambda st: sum(s['mask'].sigmoid().mean() for s in st[1:]) +
        st[2]['mask_second'].sigmoid().mean())
    # the final stage's DeRUN never feeds a mask, so only stage 1's counts
    stage1 = len(list(nun.inner[0].parameters()))
    assert (sum(mask_grads[:stage1]) == 0) == detach
    restoration_grads, _ = _derun_grad_norms(
        nun, lambda st: sum(s['image'].mean() for s in st[1:]))
    assert sum(restoration_grads[:stage1]) > 0
    # the forward pass is the same network either way
    torch.manual_seed(0)
    twin = _nun(detach_restoration=not detach)
    twin.load_state_dict(nun.state_dict())
    _, twin_states = _derun_grad_norms(twin, lambda st: st[-1]['mask'].sum())
    torch.testing.assert_close(twin_states[-1]['mask'], states[-1]['mask'])


def test_nun_rejects_bad_settings():
    with pytest.raises(ValueError, match='restored_features'):
        _nun(restored_features='sometimes')
    with pytest.raises(ValueError, match='one to four stages'):
        _nun(inner_iterations=(1, 1, 1, 1, 1))


@pytest.mark.slow
def test_nun_r50_macs_at_352_match_the_paper():
    """NUN-ResNet50: 51.72 G at 352 x 352 (paper Tab. 2), without the
    DA-CLIP prior (counted apart) — within 5 %."""
    import os.path as osp

    from mmengine.config import Config

    from dunseg.registry import MODELS
    from dunseg.utils import register_all_modules
    from dunseg.utils.complexity import module_complexity

    from ...conftest import REPO_ROOT
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/nun/nun_r50_160e_cod10k-352x352.py'))
    cfg.model.prior = None
    cfg.model.backbone.inner_cfg.prior_dim = None  # same MACs, no CLIP
    model = MODELS.build(cfg.model)
    stats = module_complexity(model, torch.rand(1, 3, 352, 352),
                              fill_caches=False)
    total = stats[''].macs
    assert abs(total / 51.72e9 - 1) < 0.05, total
    assert stats['encoder'].macs == pytest.approx(2 * 10.15e9, rel=0.01)
