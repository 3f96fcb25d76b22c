import importlib.util
import os.path as osp

import torch

from dunseg.models.layers import selective_scan

TOOL = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'experiments', 'benchmark_scan.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('benchmark_scan', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_is_the_same_operation_as_selective_scan():
    tool = load_tool()
    inputs = tool.make_inputs(2, 8, 4, 33, requires_grad=False)
    torch.testing.assert_close(
        tool.recurrence_reference(**inputs),
        selective_scan(**inputs, delta_softplus=True), atol=1e-5, rtol=1e-4)


def test_measure_and_table():
    tool = load_tool()
    results = [
        tool._measure((1, 16, 4, 32), implementation, mode, 1, 1)
        for mode in tool.MODES for implementation in ('reference', 'torch')
    ]
    for result in results:
        assert result['median_s'] > 0 and result['peak_mib'] >= 0
    table = tool.format_table(results)
    assert table.count('| 1, 16, 4, 32 |') == 4
    assert '| 1.0x |' in table  # the reference against itself
    assert tool.parse_size('4,96,16,16384') == (4, 96, 16, 16384)
