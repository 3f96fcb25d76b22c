from .dunseg_visualizer import (
                                DEFAULT_PALETTE,
                                TEXT_LINE_HEIGHT,
                                DunSegVisualizer,
                                class_palette,
                                draw_stage_grid,
                                overlay_classes,
                                overlay_mask,
                                recognised_lines,
                                to_uint8_image,
)

__all__ = ['DunSegVisualizer', 'draw_stage_grid', 'overlay_mask',
           'overlay_classes', 'class_palette', 'recognised_lines',
           'to_uint8_image', 'DEFAULT_PALETTE', 'TEXT_LINE_HEIGHT']
