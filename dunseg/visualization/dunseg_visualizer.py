from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from dunseg.registry import VISUALIZERS
from dunseg.structures import DunSegDataSample


def to_uint8_image(img) -> np.ndarray:
    """(C, H, W) tensor or (H, W[, C]) array in [0, 1] -> H x W x 3 uint8."""
    if isinstance(img, torch.Tensor):
        img = img.detach().float().cpu().numpy()
        if img.ndim == 3:
            img = img.transpose(1, 2, 0)
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def normalize_map(x: np.ndarray) -> np.ndarray:
    """Min-max normalise a state map to [0, 1] for display."""
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """``text`` in the tile's top-left corner on a black box; the font
    scale has a floor (0.34) below which commas and decimal points of the
    iterate scores become unreadable on 128-pixel tiles."""
    font_scale = 0.45 * max(img.shape[0] / 256, 0.75)
    (width, height), baseline = cv2.getTextSize(text, _FONT, font_scale, 1)
    out = img.copy()
    cv2.rectangle(out, (0, 0), (width + 4, height + baseline + 4), (0, 0, 0),
                  cv2.FILLED)
    cv2.putText(out, text, (2, height + 2), _FONT, font_scale, (255, 255, 0),
                1, cv2.LINE_AA)
    return out


#: Class colours (RGB) when the dataset has no palette; class 0 is the
#: background and is not drawn.
DEFAULT_PALETTE = ((0, 0, 0), (0, 200, 0), (60, 120, 255), (255, 60, 60),
                   (255, 200, 0), (200, 0, 255), (0, 220, 220),
                   (255, 128, 0), (128, 255, 128), (255, 0, 128))
#: Height of one text line below the panels (recognised modality /
#: degradation, class legend).
TEXT_LINE_HEIGHT = 16
_FONT_SCALE = 0.4


def class_palette(num_classes: int,
                  dataset_meta: Optional[dict] = None) -> np.ndarray:
    """(num_classes, 3) uint8 RGB colours: the dataset's ``palette`` when it
    has one for every class, else :data:`DEFAULT_PALETTE` (cycled)."""
    palette = (dataset_meta or {}).get('palette')
    if palette is None or len(palette) < num_classes:
        palette = [DEFAULT_PALETTE[k % len(DEFAULT_PALETTE)]
                   for k in range(num_classes)]
    return np.asarray(palette[:num_classes], np.uint8).reshape(-1, 3)


def overlay_classes(image: np.ndarray, mask: np.ndarray,
                    palette: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a class-index mask (H, W) onto an RGB uint8 image, one colour
    per class (``palette[k]``); class 0 (background) is left as is."""
    out = image.astype(np.float32)
    mask = np.asarray(mask).astype(np.int64)
    for k in np.unique(mask):
        if k == 0:
            continue
        sel = mask == k
        colour = palette[k % len(palette)].astype(np.float32)
        out[sel] = (1 - alpha) * out[sel] + alpha * colour
    return out.astype(np.uint8)


def _text_width(text: str) -> int:
    return cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)[0][0] + 6


def draw_text_lines(lines: Sequence[Sequence[tuple]],
                    width: int) -> np.ndarray:
    """A black band with one line per entry; a line is a sequence of
    ``(text, colour)`` pieces (a piece with colour None is white text; a
    colour makes a filled square before the text, for legends)."""
    widths = []
    for line in lines:
        widths.append(sum(_text_width(t) + (12 if c is not None else 0)
                          for t, c in line))
    width = max([width] + widths)
    band = np.zeros((TEXT_LINE_HEIGHT * len(lines), width, 3), np.uint8)
    for row, line in enumerate(lines):
        x, base = 3, row * TEXT_LINE_HEIGHT + TEXT_LINE_HEIGHT - 4
        for text, colour in line:
            if colour is not None:
                cv2.rectangle(band, (x, base - 9), (x + 9, base),
                              tuple(int(v) for v in colour), -1)
                x += 12
            cv2.putText(band, text, (x, base), _FONT, _FONT_SCALE,
                        (255, 255, 255), 1, cv2.LINE_AA)
            x += _text_width(text)
    return band


def _class_probabilities(kind: str, name: str, scores,
                         classes: Optional[Sequence[str]]) -> str:
    """'modality: PhantomCT 0.73 (PhantomMRI 0.27)'."""
    if scores is None:
        return f'{kind}: {name}'
    scores = [float(p) for p in np.asarray(scores, np.float32).reshape(-1)]
    if classes is None or len(classes) != len(scores):
        return f'{kind}: {name} {max(scores):.2f}'
    ranked = sorted(zip(classes, scores), key=lambda cp: -cp[1])
    others = ', '.join(f'{c} {p:.2f}' for c, p in ranked[1:])
    text = f'{kind}: {ranked[0][0]} {ranked[0][1]:.2f}'
    return f'{text} ({others})' if others else text


def recognised_lines(data_sample: DunSegDataSample) -> List[str]:
    """The recognised modality / degradation of a prediction with their
    probabilities, one string each, e.g. ``'modality: PhantomCT 0.73
    (PhantomMRI 0.27)'``, from the metainfo ``pred_<kind>``,
    ``pred_<kind>_scores`` and ``pred_<kind>_classes`` (as
    :class:`~dunseg.models.JointRestorerSegmentor` sets them)."""
    lines = []
    for kind in ('modality', 'degradation'):
        name = data_sample.metainfo.get(f'pred_{kind}')
        if name is None:
            continue
        scores = data_sample.metainfo.get(f'pred_{kind}_scores')
        if scores is None and kind == 'degradation' and \
                'pred_scores' in data_sample:
            scores = data_sample.pred_scores
        if isinstance(scores, torch.Tensor):
            scores = scores.detach().float().cpu().numpy()
        lines.append(_class_probabilities(
            kind, name, scores,
            data_sample.metainfo.get(f'pred_{kind}_classes')))
    return lines


def overlay_mask(image: np.ndarray, mask: np.ndarray,
                 color: Sequence[int] = (255, 0, 0),
                 alpha: float = 0.6) -> np.ndarray:
    """Blend a binary mask (H, W) onto an RGB uint8 image."""
    out = image.astype(np.float32)
    sel = mask.astype(bool)
    out[sel] = (1 - alpha) * out[sel] + alpha * np.asarray(color, np.float32)
    return out.astype(np.uint8)


def draw_stage_grid(stage_states: Dict[str, torch.Tensor],
                    tile_size: Optional[int] = None) -> np.ndarray:
    """One row per state name (B, T, N, D ...), one column per stage.

    A 3-channel state or one named ``'image'`` (a stage's restored image,
    RGB or grey) is drawn clipped to [0, 1]; other states as their first
    channel, min-max normalised per tile.
    """
    rows = []
    for name, states in stage_states.items():
        states = states.detach().float().cpu()
        tiles = []
        for k in range(states.shape[0]):
            # stage images are in [0, 1]: drawn as they are, grey or RGB
            if states.shape[1] == 3 or name == 'image':
                tile = to_uint8_image(states[k])
            else:
                tile = to_uint8_image(normalize_map(states[k, 0].numpy()))
            if tile_size:
                tile = cv2.resize(tile, (tile_size, tile_size),
                                  interpolation=cv2.INTER_NEAREST)
            tiles.append(_label(tile, f'{name}{k + 1}'))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.concatenate(rows, axis=0)


def draw_iterate_grid(iterates: Sequence[torch.Tensor],
                      scores: Sequence[torch.Tensor],
                      selected: Sequence[int],
                      tile_size: Optional[int] = None,
                      first_iterate: Optional[Sequence[int]] = None
                      ) -> np.ndarray:
    """One row per outer stage k: every inner iterate X_{k,n} (e.g. NUN's
    DeRUN) with its selector score; the chosen one is framed in green.
    ``first_iterate[k]`` numbers the row's first tile (1, or 0 when the
    stage's input X_{k,0} was a candidate too)."""
    rows = []
    if first_iterate is None:
        first_iterate = [1] * len(iterates)
    for k, (stage_iterates, stage_scores, chosen, first) in enumerate(
            zip(iterates, scores, selected, first_iterate), start=1):
        tiles = []
        for n in range(stage_iterates.shape[0]):
            tile = to_uint8_image(stage_iterates[n])
            if tile_size:
                tile = cv2.resize(tile, (tile_size, tile_size),
                                  interpolation=cv2.INTER_NEAREST)
            if n == chosen:
                tile = cv2.rectangle(tile.copy(), (0, 0),
                                     (tile.shape[1] - 1, tile.shape[0] - 1),
                                     (0, 255, 0), 2)
            score = float(stage_scores[n])
            tiles.append(_label(tile, f'X{k},{n + first} {score:.3g}'))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.concatenate(rows, axis=0)


@VISUALIZERS.register_module()
class DunSegVisualizer(Visualizer):
    """Draws input | ground truth | prediction panels and stage grids."""

    def __init__(self, name: str = 'visualizer', **kwargs) -> None:
        super().__init__(name=name, **kwargs)

    def render(self, image, data_sample: DunSegDataSample,
               draw_gt: bool = True, draw_pred: bool = True,
               draw_stages: bool = True) -> np.ndarray:
        """Compose the panels for one sample as an RGB uint8 image.

        Binary masks (infrared targets, camouflaged objects) are drawn in
        one colour over the input; multi-class masks (medical segmentation,
        ``pred_score`` with several classes) in the dataset's palette
        (:func:`class_palette`) over the restored image when there is one.
        Joint restoration + segmentation predictions show input | restored
        | segmentation [| GT segmentation | clean], then a text band with
        the recognised modality and degradation (with probabilities) and a
        legend of the predicted classes; stage grids go below.
        """
        base = to_uint8_image(image)
        multi_class = self._is_multi_class(data_sample)
        if multi_class:
            return self._render_multi_class(base, data_sample, draw_gt,
                                            draw_pred, draw_stages)
        panels = [_label(base, 'input')]
        if draw_gt and 'gt_mask' in data_sample:
            gt = data_sample.gt_mask.data[0].cpu().numpy()
            panels.append(_label(overlay_mask(base, gt, (0, 255, 0)), 'GT'))
        if draw_pred and 'pred_mask' in data_sample:
            pred = data_sample.pred_mask.data[0].cpu().numpy()
            panels.append(_label(overlay_mask(base, pred), 'prediction'))
        if draw_pred and 'pred_score' in data_sample:
            score = data_sample.pred_score.data[0].cpu().numpy()
            panels.append(_label(to_uint8_image(score), 'score'))
        if draw_pred and 'pred_image' in data_sample:
            title = 'restored'
            degradation = data_sample.metainfo.get('pred_degradation')
            if degradation is not None and 'pred_scores' in data_sample:
                confidence = float(data_sample.pred_scores.max())
                title = f'restored ({degradation} {confidence:.2f})'
            panels.append(
                _label(to_uint8_image(data_sample.pred_image.data), title))
        if draw_gt and 'gt_image' in data_sample:
            panels.append(
                _label(to_uint8_image(data_sample.gt_image.data), 'clean'))
        return self._stack(base.shape[0], panels, data_sample, draw_stages)

    @staticmethod
    def _is_multi_class(data_sample: DunSegDataSample) -> bool:
        if 'pred_score' in data_sample:
            return data_sample.pred_score.data.shape[0] > 1
        if 'gt_mask' in data_sample:
            return int(data_sample.gt_mask.data.max()) > 1
        return False

    def _num_classes(self, data_sample: DunSegDataSample) -> int:
        counts = [len((self.dataset_meta or {}).get('classes') or ())]
        if 'pred_score' in data_sample:
            counts.append(data_sample.pred_score.data.shape[0])
        for key in ('pred_mask', 'gt_mask'):
            if key in data_sample:
                counts.append(int(data_sample.get(key).data.max()) + 1)
        return max(counts + [2])

    def _render_multi_class(self, base: np.ndarray,
                            data_sample: DunSegDataSample, draw_gt: bool,
                            draw_pred: bool, draw_stages: bool
                            ) -> np.ndarray:
        palette = class_palette(self._num_classes(data_sample),
                                self.dataset_meta)
        panels = [_label(base, 'input')]
        backdrop = base
        if draw_pred and 'pred_image' in data_sample:
            backdrop = to_uint8_image(data_sample.pred_image.data)
            panels.append(_label(backdrop, 'restored'))
        if draw_pred and 'pred_mask' in data_sample:
            pred = data_sample.pred_mask.data[0].cpu().numpy()
            panels.append(_label(overlay_classes(backdrop, pred, palette),
                                 'segmentation'))
        if draw_gt and 'gt_mask' in data_sample:
            clean = base
            if 'gt_image' in data_sample:
                clean = to_uint8_image(data_sample.gt_image.data)
            gt = data_sample.gt_mask.data[0].cpu().numpy()
            panels.append(_label(overlay_classes(clean, gt, palette), 'GT'))
        if draw_gt and 'gt_image' in data_sample:
            panels.append(
                _label(to_uint8_image(data_sample.gt_image.data), 'clean'))
        lines = []
        if draw_pred:
            lines = [[(text, None)]
                     for text in recognised_lines(data_sample)]
            if 'pred_mask' in data_sample:
                lines.append(self._legend(
                    data_sample.pred_mask.data[0].cpu().numpy(), palette))
        return self._stack(base.shape[0], panels, data_sample, draw_stages,
                           lines)

    def _legend(self, mask: np.ndarray, palette: np.ndarray) -> list:
        """``[(text, colour)]``: every predicted foreground class with its
        share of the pixels."""
        names = (self.dataset_meta or {}).get('classes') or ()
        pieces = [('segmentation:', None)]
        classes, counts = np.unique(mask, return_counts=True)
        for k, count in zip(classes.tolist(), counts.tolist()):
            if k == 0:
                continue
            name = names[k] if k < len(names) else f'class {k}'
            pieces.append((f'{name} {100 * count / mask.size:.0f}%',
                           palette[k % len(palette)]))
        if len(pieces) == 1:
            pieces.append(('background only', None))
        return pieces

    @staticmethod
    def _stack(h: int, panels: List[np.ndarray],
               data_sample: DunSegDataSample, draw_stages: bool,
               lines: Sequence = ()) -> np.ndarray:
        panels = [p[:h] for p in panels]
        canvas = np.concatenate(panels, axis=1)
        tile_size = max(h, 64) if h < 64 else None
        grids = []
        if lines:
            grids.append(draw_text_lines(lines, canvas.shape[1]))
        if draw_stages and 'stage_states' in data_sample:
            grids.append(draw_stage_grid(data_sample.stage_states, tile_size))
        if draw_stages and 'derun_iterates' in data_sample:
            grids.append(draw_iterate_grid(
                data_sample.derun_iterates, data_sample.derun_scores,
                data_sample.selected_iterates, tile_size,
                data_sample.get('derun_first_iterate')))
        for grid in grids:
            width = max(canvas.shape[1], grid.shape[1])
            canvas = np.concatenate([
                np.pad(canvas, ((0, 0), (0, width - canvas.shape[1]), (0, 0))),
                np.pad(grid, ((0, 0), (0, width - grid.shape[1]), (0, 0)))
            ], axis=0)
        return canvas

    @master_only
    def add_datasample(self, name: str, image, data_sample: DunSegDataSample,
                       draw_gt: bool = True, draw_pred: bool = True,
                       draw_stages: bool = True, show: bool = False,
                       wait_time: float = 0, out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        canvas = self.render(image, data_sample, draw_gt, draw_pred,
                             draw_stages)
        self.set_image(canvas)
        if show:
            self.show(canvas, win_name=name, wait_time=wait_time)
        if out_file is not None:
            cv2.imwrite(out_file, cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        else:
            self.add_image(name, canvas, step)
        return canvas
