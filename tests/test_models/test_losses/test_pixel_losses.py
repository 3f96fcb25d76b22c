import math

import pytest
import torch

from dunseg.models.losses import L1Loss, MSELoss, PSNRLoss
from dunseg.registry import MODELS
from dunseg.utils import register_all_modules

register_all_modules()


def test_l1_and_mse_match_their_definitions():
    pred, target = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    assert torch.allclose(L1Loss(loss_weight=2.)(pred, target),
                          2 * (pred - target).abs().mean())
    assert torch.allclose(MSELoss()(pred, target),
                          (pred - target).pow(2).mean())
    with pytest.raises(ValueError,
                       match=r'loss_l1.*\(2, 3, 8, 8\).*\(2, 3, 8, 7\)'):
        L1Loss()(pred, target[..., :7])


def test_psnr_loss_is_minus_the_mean_per_sample_psnr():
    target = torch.full((2, 3, 4, 4), 0.5)
    # sample 0 off by 0.1 everywhere (PSNR 20 dB), sample 1 by 0.01 (40 dB)
    pred = target.clone()
    pred[0] += 0.1
    pred[1] += 0.01
    loss = PSNRLoss(eps=1e-12)(pred, target)
    assert loss.item() == pytest.approx(-30.0, abs=1e-3)
    built = MODELS.build(dict(type='PSNRLoss', loss_weight=0.5))
    assert built.loss_name == 'loss_psnr'
    assert built(pred, target).item() == pytest.approx(-15.0, abs=1e-2)


def test_psnr_loss_weighs_samples_equally_in_decibels():
    """A sample 10x closer to its target gets a 10x larger gradient per unit
    error, unlike MSE, where it would get a 10x smaller one."""
    target = torch.zeros(2, 1, 4, 4)
    pred = torch.cat([torch.full((1, 1, 4, 4), 0.1),
                      torch.full((1, 1, 4, 4), 0.01)]).requires_grad_()
    PSNRLoss()(pred, target).backward()
    grad_far, grad_near = pred.grad[0].abs().mean(), pred.grad[1].abs().mean()
    assert (grad_near / grad_far).item() == pytest.approx(10.0, rel=1e-3)
    # d/dp 10 log10(mean p^2) / 2 samples = 10 / ln 10 * 2 p / (16 p^2) / 2
    expected = 10 / math.log(10) * 2 / (16 * 0.1) / 2
    assert grad_far.item() == pytest.approx(expected, rel=1e-4)


def test_psnr_loss_is_finite_for_identical_images():
    x = torch.rand(1, 3, 4, 4, requires_grad=True)
    loss = PSNRLoss()(x, x.detach())
    loss.backward()
    assert loss.item() == pytest.approx(-80.0)
    assert torch.isfinite(x.grad).all()


def test_psnr_loss_rejects_bad_input():
    with pytest.raises(ValueError, match='eps must be positive'):
        PSNRLoss(eps=0)
    with pytest.raises(ValueError, match=r'loss_psnr.*\(3,\).*\(3,\)'):
        PSNRLoss()(torch.rand(3), torch.rand(3))
    with pytest.raises(ValueError, match=r'\(1, 3, 4, 4\).*\(1, 3, 4, 5\)'):
        PSNRLoss()(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))
