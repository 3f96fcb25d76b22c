"""FocalLoss, CrossEntropyLoss, MultiClassDiceLoss on hand-made cases."""
import math

import pytest
import torch

from dunseg.models.losses import (
    CrossEntropyLoss,
    FocalLoss,
    MultiClassDiceLoss,
)
from dunseg.registry import MODELS


def test_focal_loss_matches_its_formula():
    # p = softmax([log 3, 0]) = (0.75, 0.25)
    logits = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    target = torch.tensor([0, 1])
    loss = FocalLoss(gamma=2.0, alpha=0.5)(logits, target)
    expected = 0.5 * (-(0.25**2) * math.log(0.75) -
                      (0.75**2) * math.log(0.25)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # gamma 0, alpha 1: plain cross-entropy
    plain = FocalLoss(gamma=0.0)(logits, target)
    ce = CrossEntropyLoss()(logits, target)
    assert plain.item() == pytest.approx(ce.item(), rel=1e-6)
    # easy examples are down-weighted much more than hard ones
    assert FocalLoss()(logits, torch.tensor([0, 0])) < 0.02
    assert MODELS.get('FocalLoss') is FocalLoss


def test_losses_name_bad_targets():
    with pytest.raises(ValueError, match='labels 0..3 but there are 2'):
        FocalLoss()(torch.zeros(2, 2), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r'\(1, 4, 4\)'):
        CrossEntropyLoss()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 5, 5))


def test_dice_of_perfect_and_wrong_predictions():
    target = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)  # packed (N,1,H,W)
    target[..., :2, :] = 1
    perfect = torch.where(
        torch.arange(2).view(1, 2, 1, 1) == target.long(), 50.0, -50.0)
    dice = MultiClassDiceLoss(smooth=0.0)
    assert dice(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    # everything predicted as class 1: class 0 Dice 0, class 1 Dice 2/3
    wrong = torch.zeros(1, 2, 4, 4)
    wrong[:, 1] = 50.0
    assert dice(wrong, target).item() == pytest.approx(1 - (0 + 2 / 3) / 2,
                                                       rel=1e-5)
    no_bg = MultiClassDiceLoss(smooth=0.0, include_background=False)
    assert no_bg(wrong, target).item() == pytest.approx(1 / 3, rel=1e-5)
