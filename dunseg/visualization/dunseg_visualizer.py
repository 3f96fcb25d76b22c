from typing import Dict, Optional, Sequence

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


def _label(img: np.ndarray, text: str) -> np.ndarray:
    scale = max(img.shape[0] / 256, 0.35)
    out = img.copy()
    cv2.putText(out, text, (3, int(14 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX,
                0.45 * scale, (255, 255, 0), 1, cv2.LINE_AA)
    return out


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

    A 3-channel state (a stage's restored image) is drawn as an RGB image
    clipped to [0, 1]; other states as their first channel, min-max
    normalised per tile.
    """
    rows = []
    for name, states in stage_states.items():
        states = states.detach().float().cpu()
        tiles = []
        for k in range(states.shape[0]):
            if states.shape[1] == 3:
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
                      tile_size: Optional[int] = None) -> np.ndarray:
    """One row per outer stage k: every inner iterate X_{k,n} (e.g. NUN's
    DeRUN) with its selector score; the chosen one is framed in green."""
    rows = []
    for k, (stage_iterates, stage_scores, chosen) in enumerate(
            zip(iterates, scores, selected), start=1):
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
            tiles.append(_label(tile, f'X{k},{n + 1} {score:.3g}'))
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
        """Compose the panels for one sample as an RGB uint8 image."""
        base = to_uint8_image(image)
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
            if degradation is not None:
                confidence = float(data_sample.pred_scores.max())
                title = f'restored ({degradation} {confidence:.2f})'
            panels.append(
                _label(to_uint8_image(data_sample.pred_image.data), title))
        if draw_gt and 'gt_image' in data_sample:
            panels.append(
                _label(to_uint8_image(data_sample.gt_image.data), 'clean'))
        h = base.shape[0]
        panels = [p[:h] for p in panels]
        canvas = np.concatenate(panels, axis=1)
        tile_size = max(h, 64) if h < 64 else None
        grids = []
        if draw_stages and 'stage_states' in data_sample:
            grids.append(draw_stage_grid(data_sample.stage_states, tile_size))
        if draw_stages and 'derun_iterates' in data_sample:
            grids.append(draw_iterate_grid(
                data_sample.derun_iterates, data_sample.derun_scores,
                data_sample.selected_iterates, tile_size))
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
