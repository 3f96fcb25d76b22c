"""DeRUN, NUN's inner restoration unfolding (dunseg.models.unfolding.derun)."""
import pytest
import torch

from dunseg.models.unfolding.derun import DeRUN, DeRUNIteration


def _derun(**kwargs):
    cfg = dict(num_iterations=3, operator_channels=4, prox_channels=4,
               prox_blocks=1, cue_channels=4, prior_dim=8)
    cfg.update(kwargs)
    return DeRUN(**cfg)


def _inputs(n=2, size=16):
    torch.manual_seed(0)
    image = torch.rand(n, 3, size, size)
    return image, torch.rand(n, 1, size, size), torch.rand(n, 3, size, size)


def test_untrained_derun_returns_its_input():
    image, mask, background = _inputs()
    observation = image * 0.5
    iterates = _derun()(observation, image, mask, background,
                        prior=torch.randn(2, 8))
    assert len(iterates) == 3
    for x in iterates:  # identity operators, zero residual nets
        torch.testing.assert_close(x, observation)


def test_derun_gradient_step_is_the_paper_equation():
    """X̂ = X − α RC_Dᵀ(RC_D(X) − X_{k−1}) with RC = σ ⊙ (CRC(X) + X) + μ."""
    it = DeRUNIteration(3, 4, 4, 1, 4, prior_dim=None, prior_spatial=4,
                        step_init=0.3)
    torch.manual_seed(1)
    for op in (it.forward_operator, it.adjoint_operator):
        for p in op.parameters():
            p.data.normal_(0, 0.1)
    with torch.no_grad():
        it.forward_modulation.sigma.fill_(1.5)
        it.forward_modulation.mu.fill_(0.1)
    x, obs = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    cues = torch.rand(1, 7, 8, 8)

    def rc(op, v, sigma, mu):
        return sigma * (op.crc(v) + v) + mu

    residual = rc(it.forward_operator, x, 1.5, 0.1) - obs
    expected = x - 0.3 * rc(it.adjoint_operator, residual, 1.0, 0.0)
    # X1 and X2 start at zero: the iterate is the gradient step
    torch.testing.assert_close(it(x, obs, cues, None), expected)


def test_derun_data_anchor_compares_with_the_degraded_input():
    """'stage_input' (paper): RC_D(X) − X_{k−1}; 'degraded_input': − Y."""
    image, mask, background = _inputs()
    observation = image.flip(-1)  # X_{k−1}, unlike Y
    paper = _derun(prior_dim=None)
    torch.manual_seed(2)
    for p in paper.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    departure = _derun(prior_dim=None, data_anchor='degraded_input')
    departure.load_state_dict(paper.state_dict())
    cues = torch.cat([background, mask, image], 1)
    first = departure.iterations[0]
    torch.testing.assert_close(
        departure(observation, image, mask, background)[0],
        first(observation, image, cues, None))
    torch.testing.assert_close(
        paper(observation, image, mask, background)[0],
        first(observation, observation, cues, None))
    assert not torch.allclose(
        departure(observation, image, mask, background)[-1],
        paper(observation, image, mask, background)[-1])
    with pytest.raises(ValueError, match="data_anchor must be one of"):
        _derun(data_anchor='clean')


def test_explicit_prior_modulates_and_must_match_prior_dim():
    image, mask, background = _inputs()
    derun = _derun()
    for p in derun.parameters():  # leave the zero initialisation
        p.data.add_(0.05 * torch.randn_like(p))
    a = derun(image, image, mask, background, prior=torch.zeros(2, 8))[-1]
    b = derun(image, image, mask, background, prior=torch.ones(2, 8))[-1]
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match=r'\(N, 8\) \(prior_dim\)'):
        derun(image, image, mask, background, prior=torch.zeros(2, 5))
    # implicit variant: no prior at all
    _derun(prior_dim=None)(image, image, mask, background)


def test_prior_recomputed_every_iteration_with_prior_fn():
    image, mask, background = _inputs()
    calls = []

    def prior_fn(x):
        calls.append(x)
        return torch.zeros(len(x), 8)

    _derun()(image, image, mask, background, prior_fn=prior_fn)
    assert len(calls) == 3


def test_residual_gate_closed_returns_the_input_exactly():
    """With residual_gate a closed gate passes every iterate through
    unchanged, whatever the operators learned; open, it is the paper's
    update; the flag adds parameters only when set."""
    image, mask, background = _inputs()
    observation = image * 0.5
    gated = _derun(residual_gate=True)
    plain = _derun()
    plain.load_state_dict(gated.state_dict(), strict=False)
    with torch.no_grad():
        for it in list(gated.iterations) + list(plain.iterations):
            for p in it.x1.parameters():  # a non-trivial learned update
                p.normal_(0, 0.1)
        for a, b in zip(gated.iterations, plain.iterations):
            b.x1.load_state_dict(a.x1.state_dict())
    prior = torch.randn(2, 8)
    update = plain(observation, image, mask, background, prior=prior)
    assert not torch.allclose(update[0], observation)
    for bias, expected in ((-1e4, None), (1e4, update)):
        with torch.no_grad():
            for it in gated.iterations:
                it.gate.weights.bias.fill_(bias)
        out = gated(observation, image, mask, background, prior=prior)
        for n, x in enumerate(out):
            if expected is None:
                assert torch.equal(x, observation)
            else:
                torch.testing.assert_close(x, expected[n])
    extra = sum(p.numel() for p in gated.parameters()) - sum(
        p.numel() for p in plain.parameters())
    assert extra == sum(p.numel() for it in gated.iterations
                        for p in it.gate.parameters()) > 0
    assert all(it.gate is None for it in plain.iterations)
