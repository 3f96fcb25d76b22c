import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

from dunseg.models.losses import DiceLoss, StructureLoss, UncertaintyAwareLoss
from dunseg.models.losses.structure_loss import box_mean


def test_structure_loss_on_a_uniform_mask_by_hand():
    # An all-foreground mask has no boundary inside, but the zero padding of
    # the 31x31 mean filter makes the weight grow towards the borders; with a
    # constant prediction the weights cancel in the BCE term.
    target = torch.ones(1, 1, 8, 8)
    logits = torch.zeros(1, 1, 8, 8)  # p = 0.5 everywhere
    loss = StructureLoss()(logits, target)
    bce = math.log(2)
    # wIoU = 1 - (Σw·0.5 + 1) / (Σw·1.5 − Σw·0.5 + 1)
    weight = 1 + 5 * (1 - F.avg_pool2d(target, 31, 1, 15)).abs()
    s = float(weight.sum())
    wiou = 1 - (0.5 * s + 1) / (1.5 * s - 0.5 * s + 1)
    assert float(loss) == pytest.approx(bce + wiou, rel=1e-5)


def test_structure_loss_weights_boundary_errors_more():
    # the object must be wider than the 31x31 filter, or every foreground
    # pixel sees the same local mean and gets the same weight
    target = torch.zeros(1, 1, 96, 96)
    target[..., 24:72, 24:72] = 1
    good = torch.where(target > 0, 4.0, -4.0)
    boundary_miss, interior_miss = good.clone(), good.clone()
    boundary_miss[..., 24, 40:44] = -4.0  # 4 foreground pixels on the edge
    interior_miss[..., 48, 46:50] = -4.0  # 4 foreground pixels inside
    loss = StructureLoss()
    excess_boundary = loss(boundary_miss, target) - loss(good, target)
    excess_interior = loss(interior_miss, target) - loss(good, target)
    # w = 1 + 5|mean - G|: about 1 + 5 * 0.5 on the edge, 1 in the middle
    assert excess_boundary > 2 * excess_interior > 0


@pytest.mark.parametrize('shape,kernel', [((2, 1, 64, 64), 31),
                                          ((1, 1, 8, 8), 31),
                                          ((3, 2, 17, 40), 5)])
def test_separable_box_mean_equals_the_square_mean_filter(shape, kernel):
    torch.manual_seed(0)
    mask = (torch.rand(shape) > 0.5).float()
    square = F.avg_pool2d(mask, kernel, stride=1, padding=kernel // 2)
    torch.testing.assert_close(box_mean(mask, kernel), square,
                               rtol=0, atol=1e-6)


@pytest.mark.filterwarnings('ignore:size_average and reduce args')
def test_official_bce_equals_the_legacy_reduce_call():
    torch.manual_seed(0)
    target = (torch.rand(2, 1, 16, 16) > 0.5).float()
    logits = torch.randn(2, 1, 16, 16)
    weight = 1 + 5 * (F.avg_pool2d(target, 31, 1, 15) - target).abs()
    # the official line: BCE(..., reduce='none') is a scalar batch mean
    legacy = F.binary_cross_entropy_with_logits(logits, target,
                                                reduce='none')
    assert legacy.dim() == 0
    prob = logits.sigmoid()
    inter = (prob * target * weight).sum((2, 3))
    union = ((prob + target) * weight).sum((2, 3))
    wiou = 1 - (inter + 1) / (union - inter + 1 + 1e-6)
    official = ((weight * legacy).sum((2, 3)) / (weight.sum((2, 3)) + 1e-6) +
                wiou).mean()
    ours = StructureLoss(official_unweighted_bce=True)(logits, target)
    torch.testing.assert_close(ours, official, rtol=1e-5, atol=1e-6)


def test_dice_by_hand():
    pred = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    target = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    # 1 - (2 (1 + 0.5) + 1) / ((1 + 0.25) + 2 + 1)
    assert float(DiceLoss()(pred, target)) == pytest.approx(1 - 4 / 4.25)
    with pytest.raises(ValueError, match='shape'):
        DiceLoss()(pred, target[..., :1])


def test_uncertainty_loss_and_its_ramp():
    logits = torch.tensor([0.0, 100.0, -100.0, 0.0])
    loss = UncertaintyAwareLoss(ramp=False, loss_weight=2.0)
    assert float(loss(logits)) == pytest.approx(2 * 0.5)  # two uncertain
    ramp = UncertaintyAwareLoss.cosine_ramp
    assert ramp(0, 4) == pytest.approx((1 - math.cos(math.pi / 4)) / 2)
    assert ramp(3, 4) == pytest.approx(1.0)  # last iteration of the epoch
    assert ramp(4, 4) == ramp(0, 4)  # restarts every period

    hub = MessageHub.get_instance('test_uncertainty_ramp')
    hub.update_info('iter', 1)
    ramped = UncertaintyAwareLoss(ramp_iters=4)
    assert float(ramped(logits)) == pytest.approx(0.5 * ramp(1, 4))
    # epoch-based loop: the period is the epoch length
    hub.update_info('max_iters', 40)
    hub.update_info('max_epochs', 5)
    assert UncertaintyAwareLoss().coefficient() == pytest.approx(ramp(1, 8))
