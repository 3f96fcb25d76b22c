import math

import torch
from torch import nn

from dunseg.models.unfolding import RPCANetPlus
from dunseg.utils import register_all_modules


def _conv_weights(model):
    return [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]


def _fan_in(weight):
    return weight.shape[1] * weight.shape[2] * weight.shape[3]


def test_pytorch_default_init_overrides_the_official_xavier_init():
    register_all_modules()
    torch.manual_seed(0)
    official = RPCANetPlus(num_stages=1)
    official.init_weights()
    torch.manual_seed(0)
    default = RPCANetPlus(
        num_stages=1, init_cfg=dict(type='PyTorchDefault', layer='Conv2d'))
    with torch.no_grad():  # poison: the initialiser must redraw everything
        for weight in _conv_weights(default):
            weight.fill_(1.0)
    default.init_weights()

    for weight in _conv_weights(default):
        bound = 1 / math.sqrt(_fan_in(weight))
        assert weight.abs().max() <= bound + 1e-6
        assert 0 < weight.std() < bound
    # Xavier-normal draws the 32->1 head convs well outside that bound
    head = official.stages[0].merge.operator.head.weight
    assert head.abs().max() > 2 / math.sqrt(_fan_in(head))


def test_pytorch_default_init_layer_filter_leaves_other_layers():
    register_all_modules()
    model = RPCANetPlus(
        num_stages=1, init_cfg=dict(type='PyTorchDefault', layer='Conv2d'))
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.fill_(3.0)
    model.init_weights()
    assert all(torch.all(norm.weight == 3.0) for norm in norms)
