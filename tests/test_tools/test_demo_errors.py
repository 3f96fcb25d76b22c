"""demo/image_demo.py on broken inputs: a one-line error naming the file, a
non-zero exit, no traceback; ``--bit-depth`` for 12-bit data in 16-bit
PNGs."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from ..conftest import REPO_ROOT, write_tiny_config

# end-to-end runs of the tools in subprocesses: the slow tier (make test-all)
pytestmark = pytest.mark.slow

ENV = dict(os.environ, PYTHONPATH=REPO_ROOT, HF_HUB_OFFLINE='1',
           OMP_NUM_THREADS='1')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """The tiny RPCANet+ config and a checkpoint of its random init (the
    error paths do not need trained weights)."""
    from dunseg.apis import init_model
    tmp = tmp_path_factory.mktemp('demo_errors')
    config = write_tiny_config(tmp)
    model = init_model(config)
    checkpoint = str(tmp / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    return config, checkpoint, model


def demo(*args):
    return subprocess.run(
        [sys.executable, 'demo/image_demo.py', *args], cwd=REPO_ROOT,
        env=ENV, capture_output=True, text=True, timeout=600)


def _assert_clear_error(proc, name):
    assert proc.returncode != 0, proc.stdout
    assert 'Traceback' not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines()
             if line.startswith('demo/image_demo.py:')]
    assert len(lines) == 1, proc.stderr
    assert name in lines[0], proc.stderr
    assert 'target region' not in proc.stdout


def test_truncated_png(tiny, tmp_path):
    config, checkpoint, _ = tiny
    with open(os.path.join(REPO_ROOT, 'demo', 'demo_ir.png'), 'rb') as f:
        data = f.read()
    path = str(tmp_path / 'half_frame.png')
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    proc = demo(path, config, checkpoint, '--out-file',
                str(tmp_path / 'out.png'))
    _assert_clear_error(proc, 'half_frame.png')
    assert 'truncated' in proc.stderr
    assert not (tmp_path / 'out.png').exists()


def test_non_image_file(tiny, tmp_path):
    config, checkpoint, _ = tiny
    path = str(tmp_path / 'notes.png')
    with open(path, 'w') as f:
        f.write('these are my notes, not an image\n')
    proc = demo(path, config, checkpoint, '--out-file',
                str(tmp_path / 'out.png'))
    _assert_clear_error(proc, 'notes.png')
    assert 'not in an image format' in proc.stderr


@pytest.mark.parametrize('content', [b'epoch 12, loss 0.031\n',
                                     b'{"state_dict": {}}\n'])
def test_text_file_as_checkpoint(tiny, tmp_path, content):
    config, _, _ = tiny
    checkpoint = str(tmp_path / 'weights_notes.txt')
    with open(checkpoint, 'wb') as f:
        f.write(content)
    proc = demo('demo/demo_ir.png', config, checkpoint, '--out-file',
                str(tmp_path / 'out.png'))
    _assert_clear_error(proc, 'weights_notes.txt')
    assert 'not a PyTorch checkpoint' in proc.stderr


def test_truncated_checkpoint(tiny, tmp_path):
    config, checkpoint, _ = tiny
    with open(checkpoint, 'rb') as f:
        data = f.read()
    half = str(tmp_path / 'half.pth')
    with open(half, 'wb') as f:
        f.write(data[:len(data) // 2])
    proc = demo('demo/demo_ir.png', config, half, '--out-file',
                str(tmp_path / 'out.png'))
    _assert_clear_error(proc, 'half.pth')
    assert 'not a readable PyTorch checkpoint' in proc.stderr


def _png_12bit(tmp_path):
    frame = cv2.imread(os.path.join(REPO_ROOT, 'demo', 'demo_ir.png'),
                       cv2.IMREAD_GRAYSCALE)
    twelve = np.round(frame.astype(np.float64) / 255 * 4095).astype(
        np.uint16)
    path = str(tmp_path / 'frame_12bit.png')
    assert cv2.imwrite(path, twelve)
    return path, twelve


def test_demo_bit_depth(tiny, tmp_path):
    config, checkpoint, _ = tiny
    path, _ = _png_12bit(tmp_path)
    proc = demo(path, config, checkpoint, '--no-stages', '--out-file',
                str(tmp_path / 'a.png'))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert 'WARNING' in out and 'frame_12bit.png' in out
    assert '--bit-depth' in out
    proc = demo(path, config, checkpoint, '--no-stages', '--bit-depth', '12',
                '--out-file', str(tmp_path / 'b.png'))
    assert proc.returncode == 0, proc.stderr
    assert 'WARNING' not in proc.stdout + proc.stderr
    proc = demo(path, config, checkpoint, '--bit-depth', '8', '--out-file',
                str(tmp_path / 'c.png'))
    _assert_clear_error(proc, 'frame_12bit.png')
    assert 'above 255' in proc.stderr


def test_inference_bit_depth(tiny, tmp_path):
    from dunseg.apis import inference_model
    _, _, model = tiny
    path, twelve = _png_12bit(tmp_path)
    full = inference_model(model, path).input_image.data
    np.testing.assert_allclose(full[0].numpy(), twelve / 65535, atol=1e-6)
    scaled = inference_model(model, path, bit_depth=12).input_image.data
    np.testing.assert_allclose(scaled[0].numpy(), twelve / 4095, atol=1e-6)
    # arrays too
    array = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    from_array = inference_model(model, array, bit_depth=12).input_image.data
    torch.testing.assert_close(from_array, scaled)
    with pytest.raises(ValueError, match='bit_depth must be'):
        inference_model(model, path, bit_depth=0)
