"""The composition adapters: what they compute, and their errors."""
import numpy as np
import pytest
import torch

from dunseg.models.priors.clip_builder import CLIPImagePreprocess
from dunseg.registry import MODELS, TRANSFORMS
from dunseg.structures import DunSegDataSample
from dunseg.utils import register_all_modules

from .test_registry_smoke import (
    TINY_CLIP,
    TINY_VLUNET,
    istd_batch,
    restoration_batch,
)

register_all_modules()
DUAL = dict(type='CLIPDualPrior', clip_model=TINY_CLIP)


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- PriorEmbeddingAdapter --------------------------------------------------


@pytest.mark.parametrize('reduce,shape', [(None, (2, 2, 16)),
                                          ('concat', (2, 32)),
                                          ('mean', (2, 16)), (1, (2, 16))])
def test_adapter_reduces_the_dual_prior(reduce, shape):
    torch.manual_seed(0)
    adapter = MODELS.build(dict(type='PriorEmbeddingAdapter', head=DUAL,
                                reduce=reduce))
    images = torch.rand(2, 1, 32, 32)
    out = adapter(images)
    assert out['embedding'].shape == shape
    assert adapter.embed_dim == shape[-1]
    dual = adapter.head(images)
    if reduce == 1:
        assert torch.equal(out['embedding'], dual['degradation_embedding'])
    if reduce == 'mean':
        assert torch.allclose(out['embedding'], dual['embedding'].mean(1))
    # the rest passes through
    assert torch.equal(out['modality_logits'], dual['modality_logits'])


def test_adapter_repeats_a_single_vector_and_picks_other_keys():
    torch.manual_seed(0)
    head = dict(type='DACLIPPrior', clip_model=TINY_CLIP, prompts=())
    repeat = MODELS.build(dict(type='PriorEmbeddingAdapter', head=head,
                               num_vectors=3))
    assert repeat.num_prior_vectors == 3
    out = repeat(torch.rand(2, 3, 32, 32))
    assert out['embedding'].shape == (2, 3, 16)
    assert torch.equal(out['embedding'][:, 0], out['embedding'][:, 2])
    content = MODELS.build(dict(type='PriorEmbeddingAdapter', head=head,
                                key='content'))
    out = content(torch.rand(2, 3, 32, 32))
    assert torch.equal(out['embedding'], out['content'])


def test_adapter_errors():
    with pytest.raises(ValueError, match='reduce must be one of'):
        MODELS.build(dict(type='PriorEmbeddingAdapter', head=DUAL,
                          reduce='max'))
    with pytest.raises(ValueError, match='not both'):
        MODELS.build(dict(type='PriorEmbeddingAdapter', head=DUAL,
                          reduce=0, num_vectors=2))
    out_of_range = MODELS.build(dict(type='PriorEmbeddingAdapter', head=DUAL,
                                     reduce=2))
    with pytest.raises(IndexError, match='gives 2 vectors'):
        out_of_range(torch.rand(1, 1, 32, 32))
    missing = MODELS.build(dict(type='PriorEmbeddingAdapter', head=DUAL,
                                key='degradation'))
    with pytest.raises(KeyError, match="no 'degradation'"):
        missing(torch.rand(1, 1, 32, 32))


def test_clip_preprocess_reads_grey_as_rgb():
    preprocess = CLIPImagePreprocess(16)
    grey = torch.rand(2, 1, 20, 24)
    assert torch.equal(preprocess(grey),
                       preprocess(grey.expand(-1, 3, -1, -1)))
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\)'):
        preprocess(torch.rand(2, 2, 20, 24))


# ---- PriorModulatedRPCA / PriorUnfoldingSegmentor ---------------------------

RPCA = dict(type='RPCANetPlus', num_stages=2, channels=8)


def test_untrained_modulation_is_the_wrapped_unfolding():
    torch.manual_seed(0)
    wrapper = MODELS.build(dict(type='PriorModulatedRPCA', unfolding=RPCA,
                                prior_dim=8))
    plain = MODELS.build(RPCA)
    plain.load_state_dict(wrapper.unfolding.state_dict())
    wrapper.eval()
    plain.eval()
    image = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        ours = wrapper(image, torch.randn(2, 8))
        theirs = plain(image)
    for a, b in zip(ours, theirs):
        assert set(a) == set(b)
        for key in a:
            assert torch.equal(a[key], b[key]), key
    # once trained, the prior changes what the stages see
    with torch.no_grad():
        for modulation in wrapper.modulations:
            modulation.linear_sigma.weight.normal_()
        first = wrapper(image, torch.randn(2, 8))[-1]['T']
        second = wrapper(image, torch.randn(2, 8))[-1]['T']
    assert not torch.allclose(first, second)


def test_prior_modulated_rpca_errors():
    wrapper = MODELS.build(dict(type='PriorModulatedRPCA', unfolding=RPCA,
                                prior_dim=8))
    image = torch.rand(2, 1, 16, 16)
    with pytest.raises(ValueError, match='needs the degradation vector'):
        wrapper(image)
    with pytest.raises(ValueError, match=r'prior must have shape \(2, 8\)'):
        wrapper(image, torch.randn(2, 2, 8))
    with pytest.raises(ValueError, match='single-channel'):
        wrapper(torch.rand(2, 3, 16, 16), torch.randn(2, 8))
    with pytest.raises(TypeError, match='must be an RPCA unfolding'):
        MODELS.build(dict(type='PriorModulatedRPCA', unfolding=TINY_VLUNET))


def segmentor(**kwargs):
    cfg = dict(type='PriorUnfoldingSegmentor',
               data_preprocessor=dict(type='DunSegDataPreprocessor',
                                      in_channels=1),
               backbone=dict(type='PriorModulatedRPCA', unfolding=RPCA,
                             prior_dim=16),
               prior=dict(type='CLIPDegradationPrior', clip_model=TINY_CLIP,
                          input_size=32),
               decode_head=dict(type='StateMaskHead', state_key='T'))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_prior_unfolding_segmentor_errors(tmp_path):
    with pytest.raises(ValueError, match='prior_dim=8'):
        segmentor(backbone=dict(type='PriorModulatedRPCA', unfolding=RPCA,
                                prior_dim=8))
    with pytest.raises(ValueError, match='takes no prior'):
        segmentor(backbone=RPCA)
    with pytest.raises(ValueError, match='needs a prior'):
        segmentor(prior=None)
    with pytest.raises(ValueError, match='no prior head'):
        segmentor(backbone=RPCA, prior=None, prior_checkpoint='x.pth')
    missing = str(tmp_path / 'clip-adapter.pth')
    model = segmentor(prior_checkpoint=missing)
    with pytest.raises(FileNotFoundError, match='clip-adapter.pth'):
        model.init_weights()


def test_prior_checkpoint_loads_the_prior(tmp_path):
    torch.manual_seed(0)
    source = segmentor()
    path = str(tmp_path / 'prior.pth')
    torch.save(dict(state_dict=source.state_dict()), path)
    torch.manual_seed(1)
    model = segmentor(prior_checkpoint=path)
    model.init_weights()
    for key, value in source.prior.state_dict().items():
        assert torch.equal(model.prior.state_dict()[key], value), key


def test_without_a_prior_it_is_the_unfolding_segmentor():
    torch.manual_seed(0)
    ours = segmentor(backbone=RPCA, prior=None).eval()
    cfg = dict(type='UnfoldingSegmentor',
               data_preprocessor=dict(type='DunSegDataPreprocessor',
                                      in_channels=1),
               backbone=RPCA,
               decode_head=dict(type='StateMaskHead', state_key='T'))
    plain = MODELS.build(cfg).eval()
    plain.load_state_dict(ours.state_dict())
    data = ours.data_preprocessor(istd_batch(), False)
    with torch.no_grad():
        assert torch.equal(ours(data['inputs']), plain(data['inputs']))


# ---- VLUNetInnerRestorer ----------------------------------------------------


def test_vlunet_inner_restorer_starts_at_its_input():
    torch.manual_seed(0)
    inner = MODELS.build(dict(
        type='VLUNetInnerRestorer', num_iterations=4, cue_channels=4,
        backbone=dict(TINY_VLUNET, zero_init_output=True)))
    observation = torch.rand(2, 3, 16, 16)
    seen = []

    def prior_fn(image):
        seen.append(image)
        return torch.randn(len(image), 16)

    iterates = inner(observation, torch.rand(2, 3, 16, 16),
                     torch.rand(2, 1, 16, 16), torch.rand(2, 3, 16, 16),
                     prior_fn=prior_fn)
    assert len(iterates) == 4
    for x in iterates:
        assert torch.equal(x, observation)
    assert len(seen) == 1 and seen[0] is observation
    assert inner.prior_dim == 16


def test_vlunet_inner_restorer_errors():
    with pytest.raises(ValueError, match='num_iterations must be 1..8'):
        MODELS.build(dict(type='VLUNetInnerRestorer', num_iterations=9,
                          backbone=TINY_VLUNET))
    with pytest.raises(TypeError, match='must be a VLUNet'):
        MODELS.build(dict(type='VLUNetInnerRestorer', backbone=dict(
            type='RPCANet', num_stages=1, channels=4)))
    inner = MODELS.build(dict(type='VLUNetInnerRestorer', num_iterations=2,
                              backbone=TINY_VLUNET))
    image = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match='needs the degradation vector'):
        inner(image, image, image[:, :1], image)


# ---- StageSelectionRestorer -------------------------------------------------


def selecting(**kwargs):
    cfg = dict(type='StageSelectionRestorer', backbone=TINY_VLUNET,
               prior=dict(type='CLIPDegradationPrior', clip_model=TINY_CLIP,
                          input_size=32),
               num_candidates=3)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_oracle_chooses_the_best_stage_and_none_the_output():
    torch.manual_seed(0)
    model = selecting(selector=dict(type='OracleSelector')).eval()
    batch = restoration_batch()
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        candidates, _ = model.candidates(data['inputs'])
        predictions = model(**data, mode='predict')
    gt = torch.stack([s.gt_image.data for s in batch['data_samples']])
    mse = (candidates.clamp(0, 1) - gt[:, None]).square().flatten(2).mean(2)
    best = mse.argmin(1)
    for i, sample in enumerate(predictions):
        assert sample.selected_stage == model.candidate_stages[int(best[i])]
        assert torch.equal(sample.pred_image.data,
                           candidates[i, best[i]].clamp(0, 1))
    restorer = MODELS.build(dict(type='Restorer', backbone=TINY_VLUNET,
                                 prior=dict(type='CLIPDegradationPrior',
                                            clip_model=TINY_CLIP,
                                            input_size=32))).eval()
    restorer.load_state_dict(model.state_dict(), strict=False)
    plain = selecting(selector=None).eval()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(plain(data['inputs']), restorer(data['inputs']))


def test_stage_selection_losses_and_errors():
    torch.manual_seed(0)
    model = selecting(selector=dict(type='LastSelector'))
    data = model.data_preprocessor(restoration_batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_l1', 'loss_candidates'}
    sum(losses.values()).backward()
    assert all(r.conv.weight.grad is not None
               for r in model.candidate_readouts)
    with pytest.raises(ValueError, match='num_candidates must be 1..8'):
        selecting(num_candidates=9)
    with pytest.raises(ValueError, match='stage_loss_weight is not used'):
        selecting(stage_loss_weight=1.0)


# ---- DegradeObservation and DACLIPTuner's label_key ---------------------


def test_degrade_observation_needs_an_image():
    transform = TRANSFORMS.build(dict(type='DegradeObservation',
                                      degradation='deblur'))
    with pytest.raises(KeyError, match="no 'img'"):
        transform(dict(img_path='frame.png'))
    with pytest.raises(ValueError, match='drop skip_if_degraded'):
        TRANSFORMS.build(dict(type='DegradeObservation',
                              skip_if_degraded=True))
    out = transform(dict(img=np.full((8, 8, 1), 0.5, np.float32),
                         sample_idx=0))
    assert out['degradation'] == 'deblur'


def test_daclip_tuner_reads_class_names():
    torch.manual_seed(0)
    tuner = MODELS.build(dict(
        type='DACLIPTuner', classes=('radial', 'cartesian'),
        words=('radial-streaked', 'aliased'), label_key='kspace_pattern',
        data_preprocessor=dict(type='DunSegDataPreprocessor', in_channels=1),
        prior=dict(type='DACLIPPrior', clip_model=TINY_CLIP, input_size=32)))
    samples = [DunSegDataSample(metainfo=dict(kspace_pattern=name))
               for name in ('cartesian', 'radial')]
    assert tuner._labels(samples, 'cpu').tolist() == [1, 0]
    losses = tuner.loss(torch.rand(2, 1, 32, 32), samples)
    assert torch.isfinite(losses['loss_degradation'])
    with pytest.raises(ValueError, match="'spiral' is not one of"):
        tuner._labels([DunSegDataSample(metainfo=dict(
            kspace_pattern='spiral'))], 'cpu')
    with pytest.raises(KeyError, match="no metainfo\\['kspace_pattern'\\]"):
        tuner._labels([DunSegDataSample()], 'cpu')
