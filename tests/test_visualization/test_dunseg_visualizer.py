import numpy as np

from dunseg.visualization.dunseg_visualizer import _label


def test_label_draws_text_on_a_black_box_and_keeps_the_input():
    tile = np.full((128, 128, 3), 200, np.uint8)
    out = _label(tile, 'X4,2 27.2')
    assert (tile == 200).all()  # the input tile is not drawn on
    changed = np.argwhere((out != 200).any(axis=-1))
    rows, cols = changed[:, 0], changed[:, 1]
    # confined to the top-left corner, and wide and tall enough to read on a
    # 128-pixel tile (at the old scale it was 7 pixels high)
    assert rows.min() == 0 and cols.min() == 0
    assert 10 <= rows.max() < 32 and 40 <= cols.max() < 128
    box = out[:rows.max() + 1, :cols.max() + 1]
    yellow = (box[..., 0] > 128) & (box[..., 1] > 128) & (box[..., 2] < 80)
    black = (box == 0).all(axis=-1)
    assert yellow.sum() > 30 and black.sum() > yellow.sum()
    assert (out[40:] == 200).all()
