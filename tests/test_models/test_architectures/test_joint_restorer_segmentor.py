"""JointRestorerSegmentor with VL-DUN on embedded phantoms, tiny CLIP."""
import pytest
import torch
from mmengine.dataset import default_collate

from dunseg.registry import DATASETS, MODELS
from dunseg.utils import register_all_modules

TINY_CLIP = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=16,
                    head_width=16),
    text_cfg=dict(context_length=16, width=32, heads=2, layers=1))


def tiny_model(prior=True, **kwargs):
    register_all_modules()
    backbone = dict(type='VLDUN', dim=8, num_blocks=(1, 1, 1, 1),
                    num_refinement_blocks=1, heads=(1, 1, 1, 1),
                    prior_dim=16, mamba_cfg=dict(d_state=4))
    backbone.update(kwargs.pop('backbone', {}))
    cfg = dict(type='JointRestorerSegmentor', backbone=backbone,
               seg_head=dict(type='VLDUNSegHead', num_classes=4,
                             channels=8))
    if prior:
        cfg['prior'] = dict(type='CLIPDualPrior', clip_model=TINY_CLIP,
                            trainable=('visual', 'modality_classifier'))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def phantom_batch(n=2, size=32):
    register_all_modules()
    dataset = DATASETS.build(dict(
        type='SyntheticPhantomDataset', num_samples=n, img_size=size,
        modalities=('CT', 'MRI'), seed=0, split='val',
        pipeline=[dict(type='KSpaceUndersample', modality='auto', seed=0),
                  dict(type='PackMedicalInputs')]))
    return default_collate([dataset[i] for i in range(n)])


@pytest.mark.slow
def test_loss_terms_and_backward_through_prior_and_unfolding():
    torch.manual_seed(0)
    model = tiny_model(train_prior=True)
    data = model.data_preprocessor(phantom_batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_rec', 'loss_seg_ce', 'loss_seg_dice',
                           'loss_modality', 'loss_degradation',
                           'modality_accuracy', 'degradation_accuracy'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.encoder_level1.gradient_descent.rho.grad is not None
    assert model.seg_head.layers[0].weight.grad is not None
    assert model.prior.modality_classifier.weight.grad is not None
    assert model.prior.clip.visual.conv1.weight.grad is not None


def test_predict_fields_and_stage_images():
    torch.manual_seed(0)
    model = tiny_model(return_stages=True).eval()
    data = model.data_preprocessor(phantom_batch(), False)
    sample = model(**data, mode='predict')[0]
    assert sample.pred_image.data.shape == (1, 32, 32)
    assert sample.pred_mask.data.shape == (1, 32, 32)
    assert sample.pred_mask.data.dtype == torch.long
    assert sample.pred_score.data.shape == (4, 32, 32)
    assert torch.allclose(sample.pred_score.data.sum(0), torch.ones(32, 32))
    assert sample.stage_states['image'].shape == (8, 1, 32, 32)
    assert sample.metainfo['pred_modality'] in ('PhantomCT', 'PhantomMRI')
    assert sample.metainfo['pred_degradation'] in ('radial', 'cartesian')


@pytest.mark.slow
def test_ablation_variants():
    torch.manual_seed(0)
    batch = phantom_batch()
    # w/o segmentation head: restoration only
    rec_only = tiny_model(seg_head=None)
    data = rec_only.data_preprocessor(batch, True)
    assert set(rec_only(**data, mode='loss')) == {'loss_rec'}
    # w/o CLIP: learned prompts, no prior head
    learned = tiny_model(prior=False, backbone=dict(use_prior=False))
    assert learned.prior is None
    assert 'loss_seg_dice' in learned(**data, mode='loss')
    with pytest.raises(ValueError, match='use_prior=False'):
        tiny_model(prior=False)
    # the known operator from the samples' kspace_mask
    physical = tiny_model(prior=False, backbone=dict(
        use_prior=False, physical_operator=True)).eval()
    out = physical(**physical.data_preprocessor(batch, False),
                   mode='predict')
    assert out[0].pred_image.data.shape == (1, 32, 32)
    with pytest.raises(ValueError, match='kspace_mask'):
        physical(data['inputs'], mode='tensor')


@pytest.mark.slow
def test_per_dataset_label_spaces_for_joint_training():
    """Datasets whose labels mean different things share one Seg. Head over
    the union of their classes; predictions come back in local labels."""
    torch.manual_seed(0)
    spaces = dict(PhantomCT=[0, 1, 2, 3], PhantomMRI=[0, 4, 5, 6])
    model = tiny_model(prior=False, backbone=dict(use_prior=False),
                       seg_head=dict(type='VLDUNSegHead', num_classes=7,
                                     channels=8),
                       label_spaces=spaces)
    batch = phantom_batch()
    data = model.data_preprocessor(batch, True)
    samples = data['data_samples']
    names = [s.dataset_name for s in samples]
    assert names == ['PhantomCT', 'PhantomMRI']
    target = model._gt_masks(samples, 'cpu')
    local = samples[1].gt_mask.data[0].long()
    assert torch.equal(target[1], torch.tensor([0, 4, 5, 6])[local])
    assert torch.equal(target[0], samples[0].gt_mask.data[0].long())
    keep = model._class_mask(samples, 7, 'cpu')
    assert keep.tolist() == [[True] * 4 + [False] * 3,
                             [True] + [False] * 3 + [True] * 3]
    assert 'loss_seg_dice' in model(**data, mode='loss')
    model.eval()
    out = model(**model.data_preprocessor(batch, False), mode='predict')
    assert out[1].pred_score.data.shape == (4, 32, 32)
    assert int(out[1].pred_mask.data.max()) < 4
    with pytest.raises(ValueError, match='background'):
        tiny_model(prior=False, backbone=dict(use_prior=False),
                   label_spaces=dict(PhantomCT=[1, 2]))


def test_prior_only_fine_tuning_skips_the_unfolding():
    torch.manual_seed(0)
    model = tiny_model(train_prior=True, prior_only=True)
    data = model.data_preprocessor(phantom_batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_modality', 'loss_degradation',
                           'modality_accuracy', 'degradation_accuracy'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.prior.modality_classifier.weight.grad is not None
    assert all(p.grad is None for p in model.backbone.parameters())
    with pytest.raises(ValueError, match='train_prior'):
        tiny_model(prior_only=True)


def test_prior_checkpoint_of_the_fine_tuning_loads_into_the_joint_model(
        tmp_path):
    torch.manual_seed(0)
    tuned = tiny_model(train_prior=True, prior_only=True)
    with torch.no_grad():
        tuned.prior.modality_classifier.weight.fill_(0.25)
    path = str(tmp_path / 'prior.pth')
    torch.save(dict(state_dict=tuned.state_dict()), path)
    model = tiny_model(prior_checkpoint=path)
    model.init_weights()
    assert torch.equal(model.prior.modality_classifier.weight,
                       tuned.prior.modality_classifier.weight)
    with pytest.raises(FileNotFoundError, match='tune the dual prior'):
        tiny_model(prior_checkpoint=str(tmp_path / 'absent.pth')
                   ).init_weights()


@pytest.mark.slow
def test_stage_readouts_learn_without_changing_the_network_gradients():
    """Readouts built for the stage images (return_stages) train on detached
    features: every parameter gets a gradient (DDP), the network's are
    those of the model without readouts."""
    batch = phantom_batch()
    grads = {}
    for stages in (False, True):
        torch.manual_seed(0)
        model = tiny_model(return_stages=stages)
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        assert ('loss_stage_readout' in losses) == stages
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        grads[stages] = {
            name: p.grad.clone() for name, p in model.named_parameters()
            if p.grad is not None and not name.startswith('stage_readouts')
        }
        if stages:
            # (the prior's classifier learns only with train_prior)
            trainable = [(n, p) for n, p in model.named_parameters()
                         if p.requires_grad and not n.startswith('prior.')]
            assert all(p.grad is not None for _, p in trainable), [
                n for n, p in trainable if p.grad is None]
    assert grads[False].keys() == grads[True].keys()
    # Exact on purpose: the network runs the same ops on the same inputs in
    # both models; the readouts only read detached features.
    for name, grad in grads[False].items():
        assert torch.equal(grad, grads[True][name]), name


def test_predict_pads_slices_whose_size_is_no_multiple_of_8():
    torch.manual_seed(0)
    model = tiny_model(return_stages=True).eval()
    data = model.data_preprocessor(phantom_batch(size=32), False)
    inputs = data['inputs'][..., :30, :27]
    sample = model(inputs, mode='predict')[0]
    assert sample.pred_image.data.shape == (1, 30, 27)
    assert sample.pred_mask.data.shape == (1, 30, 27)
    assert sample.pred_score.data.shape == (4, 30, 27)
    assert sample.stage_states['image'].shape == (8, 1, 30, 27)
    assert sample.metainfo['pred_modality_classes'] == ('PhantomCT',
                                                        'PhantomMRI')
    # the known operator fixes the size: no padding, a clear error
    physical = tiny_model(prior=False, backbone=dict(
        use_prior=False, physical_operator=True)).eval()
    assert physical.needs_kspace_mask and not model.needs_kspace_mask
    with pytest.raises(ValueError, match='divisible by 8'):
        physical(inputs, data['data_samples'], mode='predict')


def test_inference_input_takes_the_recognised_datasets_label_space():
    """An inference sample names no dataset: the modality prior's
    recognised dataset picks the label space."""
    torch.manual_seed(0)
    spaces = dict(PhantomCT=[0, 1, 2, 3], PhantomMRI=[0, 4, 5, 6])
    model = tiny_model(seg_head=dict(type='VLDUNSegHead', num_classes=7,
                                     channels=8),
                       label_spaces=spaces).eval()
    data = model.data_preprocessor(phantom_batch(n=1), False)
    sample = model(data['inputs'], mode='predict')[0]
    recognised = sample.metainfo['pred_modality']
    assert 'dataset_name' not in sample.metainfo
    assert sample.pred_score.data.shape == (4, 32, 32)
    named = data['data_samples'][0].clone()
    named.set_metainfo(dict(dataset_name=recognised))
    expected = model(data['inputs'], [named], mode='predict')[0]
    # same model, same input, same label space: the same code path
    assert torch.equal(sample.pred_score.data, expected.pred_score.data)
