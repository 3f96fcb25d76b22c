from .dunseg_visualizer import (DunSegVisualizer, draw_stage_grid,
                                overlay_mask, to_uint8_image)

__all__ = ['DunSegVisualizer', 'draw_stage_grid', 'overlay_mask',
           'to_uint8_image']
