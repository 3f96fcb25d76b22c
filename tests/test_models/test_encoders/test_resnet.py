import pytest
import torch
import torchvision

from dunseg.models.encoders import ResNetEncoder
from dunseg.registry import MODELS


def num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    # Small convolutions: extra threads only contend on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_resnet50_stages_channels_strides_and_count():
    with torch.device('meta'):
        encoder = MODELS.build(dict(type='ResNetEncoder', depth=50))
    assert encoder.out_channels == (256, 512, 1024, 2048)
    assert encoder.strides == (4, 8, 16, 32)
    # timm/torchvision resnet50 without its 2,049,000-parameter classifier
    assert num_params(encoder) == 23_508_032


def test_tiny_resnet_shapes_at_odd_size():
    encoder = ResNetEncoder(depth=18, base_channels=8)
    features = encoder(torch.rand(1, 3, 96, 64))
    assert encoder.out_channels == (8, 16, 32, 64)
    assert [tuple(f.shape) for f in features] == [(1, 8, 24, 16),
                                                  (1, 16, 12, 8),
                                                  (1, 32, 6, 4), (1, 64, 3, 2)]


def test_torchvision_file_loads_strictly_and_matches_torchvision(tmp_path):
    reference = torchvision.models.resnet18().eval()
    path = tmp_path / 'resnet18.pth'
    torch.save(reference.state_dict(), path)  # includes fc.*, dropped
    encoder = ResNetEncoder(depth=18, pretrained=str(path))
    encoder.init_weights()
    encoder.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        features = encoder(x)
        expected = reference.layer4(reference.layer3(reference.layer2(
            reference.layer1(reference.maxpool(reference.relu(
                reference.bn1(reference.conv1(x))))))))
    torch.testing.assert_close(features[-1], expected)


def test_wrapped_checkpoint_is_unwrapped(tmp_path):
    state = torchvision.models.resnet18().state_dict()
    path = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': {f'module.{k}': v for k, v in state.items()}},
               path)
    encoder = ResNetEncoder(depth=18, pretrained=str(path))
    encoder.init_weights()
    torch.testing.assert_close(encoder.resnet.conv1.weight,
                               state['conv1.weight'])


def test_missing_file_says_which_file_to_put_where(tmp_path):
    path = tmp_path / 'resnet50-0676ba61.pth'
    with torch.device('meta'):  # skip the random initialisation's cost
        encoder = ResNetEncoder(depth=50, pretrained=str(path))
    with pytest.raises(FileNotFoundError) as error:
        encoder.init_weights()
    message = str(error.value)
    assert str(path) in message
    assert 'resnet50-0676ba61.pth' in message and 'timm' in message


def test_mismatched_file_names_the_keys(tmp_path):
    path = tmp_path / 'wrong.pth'
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, path)
    encoder = ResNetEncoder(depth=18, pretrained=str(path))
    with pytest.raises(KeyError, match='missing'):
        encoder.init_weights()
