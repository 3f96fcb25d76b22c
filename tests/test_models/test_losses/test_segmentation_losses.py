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
    # an asynchronous device check: on a CPU it raises at once
    with pytest.raises(RuntimeError,
                       match=r'outside 0\.\.1 but there are 2 classes'):
        FocalLoss()(torch.zeros(2, 2), torch.tensor([0, 3]))
    with pytest.raises(RuntimeError, match='loss_dice: targets hold labels'):
        MultiClassDiceLoss()(torch.zeros(1, 2, 2, 2),
                             torch.full((1, 2, 2), -1))
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


def test_dice_class_mask_mean_matches_indexing_and_empty_mask():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 5, 5, requires_grad=True)
    target = torch.randint(0, 4, (3, 5, 5))
    class_mask = torch.tensor([[1, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 0]],
                              dtype=torch.bool)
    dice = MultiClassDiceLoss(include_background=False)
    # the mean of 1 - D over the kept (image, class) entries, by indexing
    prob = logits.softmax(1).flatten(2)
    one_hot = torch.nn.functional.one_hot(target.flatten(1),
                                          4).transpose(1, 2).float()
    per_entry = 1 - (2 * (prob * one_hot).sum(-1) + 1) / (
        prob.sum(-1) + one_hot.sum(-1) + 1)
    keep = class_mask.clone()
    keep[:, 0] = False
    expected = per_entry[keep].mean()
    loss = dice(logits, target, class_mask)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    # nothing kept: 0, and backward still runs
    empty = dice(logits, target, torch.zeros_like(class_mask))
    assert empty.item() == 0.0
    empty.backward()
    assert torch.count_nonzero(logits.grad) == 0
