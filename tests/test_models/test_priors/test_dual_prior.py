"""VL-DUN's CLIP dual prior (dunseg/models/priors/dual_prior.py)."""
import pytest
import torch

from dunseg.models.priors import CLIPDualPrior
from dunseg.registry import MODELS

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16,
                    head_width=16),
    text_cfg=dict(context_length=16, width=32, heads=2, layers=1))


def test_outputs_and_the_degradation_vector():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='CLIPDualPrior', clip_model=TINY,
                             modality_classes=('A', 'B', 'C')))
    out = head(torch.rand(2, 1, 40, 40))  # grey slices, any size
    assert out['embedding'].shape == (2, 2, 32)
    assert out['modality_logits'].shape == (2, 3)
    assert out['degradation_logits'].shape == (2, 2)
    assert torch.equal(out['logits'], out['degradation_logits'])
    # the degradation vector is the prompts' unit features weighted by the
    # similarity distribution; the modality vector the unit image feature
    text = torch.nn.functional.normalize(head.encode_prompts(), dim=-1)
    weights = out['degradation_logits'].softmax(-1)
    assert torch.allclose(out['embedding'][:, 1], weights @ text, atol=1e-5)
    assert torch.allclose(out['embedding'][:, 0].norm(dim=-1),
                          torch.ones(2), atol=1e-5)
    assert torch.allclose(out['degradation_logits'],
                          100 * out['embedding'][:, 0] @ text.T, atol=1e-3)


def test_freezing_and_losses_reach_the_trained_parts():
    torch.manual_seed(0)
    head = CLIPDualPrior(TINY, trainable=('visual', 'modality_classifier'))
    assert all(not p.requires_grad for p in head.parts()['text'])
    out = head(torch.rand(2, 3, 32, 32))
    losses = head.loss(out, torch.tensor([0, 1]), torch.tensor([1, 0]))
    assert set(losses) == {'loss_modality', 'loss_degradation'}
    sum(losses.values()).backward()
    assert head.modality_classifier.weight.grad is not None
    assert head.clip.visual.conv1.weight.grad is not None
    assert all(p.grad is None for p in head.parts()['text'])


def test_prompts_must_match_the_classes():
    with pytest.raises(KeyError, match='no default prompt'):
        CLIPDualPrior(TINY, degradation_classes=('snow', ))
    with pytest.raises(ValueError, match='one prompt per class'):
        CLIPDualPrior(TINY, degradation_classes=('noise', 'blur'),
                      degradation_prompts=('noisy', ))
