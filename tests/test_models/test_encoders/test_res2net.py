import pytest
import torch

from dunseg.models.encoders import Res2NetEncoder
from dunseg.registry import MODELS

# The 1000-class ImageNet classifier of Res2Net-50 (2048 x 1000 + 1000).
CLASSIFIER_PARAMS = 2_049_000


def num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    # Small convolutions: extra threads only contend on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_res2net50_26w4s_matches_the_published_count():
    # Res2Net-PretrainedModels README: Res2Net-50-26w-4s, 25.70 M parameters
    with torch.device('meta'):
        encoder = Res2NetEncoder(deep_stem=False, avg_down=False)
    total = num_params(encoder) + CLASSIFIER_PARAMS
    assert round(total / 1e6, 2) == 25.70
    assert total == 25_699_120


def test_v1b_variant_adds_the_deep_stem_only():
    with torch.device('meta'):
        v1b = MODELS.build(dict(type='Res2NetEncoder'))
        plain = Res2NetEncoder(deep_stem=False, avg_down=False)
    # three 3x3 convs 3-32-32-64 (+2 BN) instead of one 7x7 conv 3-64;
    # the average-pooling shortcut has no parameters
    stem_difference = (3 * 32 * 9 + 64 + 32 * 32 * 9 + 64 + 32 * 64 * 9 -
                       3 * 64 * 49)
    assert num_params(v1b) - num_params(plain) == stem_difference
    assert v1b.out_channels == (256, 512, 1024, 2048)


def test_shapes_at_odd_size():
    encoder = Res2NetEncoder().eval()
    with torch.no_grad():
        features = encoder(torch.rand(1, 3, 96, 64))
    assert [tuple(f.shape[1:]) for f in features] == [(256, 24, 16),
                                                      (512, 12, 8),
                                                      (1024, 6, 4),
                                                      (2048, 3, 2)]


def test_timm_file_loads_strictly_and_matches_timm(tmp_path):
    timm = pytest.importorskip('timm')
    reference = timm.create_model('res2net50d', pretrained=False).eval()
    path = tmp_path / 'res2net50d.pth'
    torch.save(reference.state_dict(), path)
    encoder = Res2NetEncoder(pretrained=str(path))
    encoder.init_weights()
    encoder.eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(encoder(x)[-1],
                                   reference.forward_features(x))


def test_missing_file_names_the_expected_weights(tmp_path):
    encoder = Res2NetEncoder(pretrained=str(tmp_path / 'r2n.pth'))
    with pytest.raises(FileNotFoundError, match='res2net50_v1b_26w_4s'):
        encoder.init_weights()


def test_norm_eval_keeps_batchnorm_in_eval_mode():
    encoder = Res2NetEncoder(norm_eval=True).train()
    assert not encoder.bn1.training and encoder.layer1[0].conv1.training
