import pytest
import torch

from dunseg.models.unfolding.rpcanet import RPCANet, RPCANetPlus, RPCAUnfolding


def num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('kwargs,expected', [
    (dict(type=RPCANet), 679_896),
    (dict(type=RPCANetPlus), 215_916),
    (dict(type=RPCANetPlus, bottleneck_channels=16), 475_188),
    (dict(type=RPCANetPlus, bottleneck_channels=16, noise_layers=3), 433_428),
])
def test_published_parameter_counts(kwargs, expected):
    cls = kwargs.pop('type')
    assert num_params(cls(**kwargs)) == expected


def test_rpcanet_plus_per_stage_counts():
    stage = RPCANetPlus().stages[0]
    assert num_params(stage) == 35_986
    assert num_params(stage.background) == 2_119
    assert num_params(stage.target) == 2_532
    assert num_params(stage.noise) == 2_564
    assert num_params(stage.merge) == 28_771
    # the paper's K sweep: 0.0360 M per stage, 0.2159 M at K = 6
    for k in (1, 3, 7):
        assert num_params(RPCANetPlus(num_stages=k)) == 35_986 * k


def test_states_per_stage():
    x = torch.rand(2, 1, 16, 20)
    states = RPCANetPlus(num_stages=3)(x)
    assert len(states) == 3
    for state in states:
        assert set(state) == {'B', 'T', 'N', 'D'}
        assert all(v.shape == x.shape for v in state.values())
    assert set(RPCANet(num_stages=2)(x)[-1]) == {'B', 'T', 'D'}


def _zero_operators(model):
    """With every learned operator's output at zero the updates reduce to
    the plain RPCA splitting: B = D - T - N, T = T + D - B - N, ..."""
    for stage in model.stages:
        for module in (stage.background, stage.target, stage.noise):
            if module is not None:
                torch.nn.init.zeros_(module.operator.head.weight)
                torch.nn.init.zeros_(module.operator.head.bias)


def test_updates_follow_the_equations():
    torch.manual_seed(0)
    model = RPCANetPlus(num_stages=1).eval()
    _zero_operators(model)
    D = torch.rand(1, 1, 8, 8)
    state = model(D)[0]
    # N^0 = T^0 = 0 -> B^1 = D, T^1 = D - B^1 = 0, N^1 = D - B^1 - T^1 = 0
    torch.testing.assert_close(state['B'], D)
    torch.testing.assert_close(state['T'], torch.zeros_like(D))
    torch.testing.assert_close(state['N'], torch.zeros_like(D))
    merge = model.stages[0].merge.operator
    torch.testing.assert_close(state['D'], merge(D))


def test_target_step_uses_epsilon():
    torch.manual_seed(0)
    model = RPCANet(num_stages=1).eval()
    D = torch.rand(1, 1, 8, 8)
    stage = model.stages[0]
    B = stage.background(D, torch.zeros_like(D))
    x = D - B
    expected = x - stage.target.epsilon * stage.target.operator(x)
    torch.testing.assert_close(model(D)[0]['T'], expected)
    assert stage.target.epsilon.item() == pytest.approx(0.01)


def test_noise_carry_flag():
    torch.manual_seed(0)
    official = RPCANetPlus(num_stages=2).eval()
    paper = RPCANetPlus(num_stages=2, carry_noise_across_stages=True).eval()
    paper.load_state_dict(official.state_dict())
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        a, b = official(x), paper(x)
    torch.testing.assert_close(a[0]['D'], b[0]['D'])  # stage 1 identical
    assert not torch.allclose(a[1]['T'], b[1]['T'])   # N^1 enters stage 2


def test_wrong_channel_count_is_explained():
    with pytest.raises(ValueError, match='single-channel'):
        RPCANet(num_stages=1)(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match='num_stages'):
        RPCAUnfolding(num_stages=0)


def _randomise_batch_norms(model):
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)


@pytest.mark.parametrize('cls', [RPCANet, RPCANetPlus])
@pytest.mark.parametrize('channels_last', [True, False])
@pytest.mark.parametrize('training', [True, False])
def test_operators_equal_the_plain_layer_sequence(cls, channels_last,
                                                  training):
    """The operators fold eval BatchNorm into the convs and the SE weights
    into the head; values and gradients must equal body -> SE -> head run
    layer by layer (the official module order)."""
    torch.manual_seed(0)
    model = cls(num_stages=1).double()
    _randomise_batch_norms(model)
    model.train(training)
    x = torch.rand(2, 1, 12, 10, dtype=torch.float64)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    stage = model.stages[0]
    for module in (stage.background, stage.target, stage.noise, stage.merge):
        if module is None:
            continue
        operator = module.operator
        results = []
        for plain in (False, True):
            inp = x.clone().requires_grad_()
            if plain:
                out = torch.nn.functional.conv2d(
                    operator.se(operator.body(inp)), operator.head.weight,
                    operator.head.bias, padding=1)
            else:
                out = operator(inp)
            grads = torch.autograd.grad(
                out.sin().sum(), [inp] + list(operator.parameters()),
                allow_unused=True)
            results.append((out, grads))
        torch.testing.assert_close(results[0][0], results[1][0])
        for got, expected in zip(results[0][1], results[1][1]):
            if expected is None:
                assert got is None or not got.any()
            else:
                torch.testing.assert_close(got, expected)


def test_hooked_modules_are_still_called_in_eval():
    """MAC counters hook the conv and BatchNorm modules: with a hook in
    place the eval forward must call them rather than the folded pair."""
    model = RPCANetPlus(num_stages=1).eval()
    called = set()
    layers = [m for m in model.modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d))]
    for layer in layers:
        layer.register_forward_hook(
            lambda module, args, out: called.add(id(module)))
    with torch.no_grad():
        model(torch.rand(1, 1, 8, 8))
    assert called == {id(layer) for layer in layers}
