# SPDX-License-Identifier: MIT
"""Motion boxes by frame differencing, with numpy: the "inference" of the inference samples.

Pixels whose luma changed by more than `threshold` between two frames mark their cell (a `cell` x `cell` block);
marked cells that touch (8-connectivity) form one region, reported as its bounding box (x, y, width, height) in
pixels. Small enough to read, real enough to see a moving object.
"""
import numpy as np


def motion_boxes(previous: np.ndarray, current: np.ndarray, threshold: int = 24, cell: int = 8) -> list:
    """Boxes [x, y, w, h] around the regions that changed between two (H, W) luma images ((H, W, 1) too)."""
    if current.ndim == 3:
        previous, current = previous[:, :, 0], current[:, :, 0]
    changed = np.abs(current.astype(np.int16) - previous.astype(np.int16)) > threshold
    rows, cols = changed.shape[0] // cell, changed.shape[1] // cell
    cells = changed[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell).any(axis=(1, 3))
    boxes = []
    seen = np.zeros_like(cells)
    for start in zip(*np.nonzero(cells)):
        if seen[start]:
            continue
        seen[start] = True
        stack, top, left, bottom, right = [start], start[0], start[1], start[0], start[1]
        while stack:  # Flood fill over marked cells.
            r, c = stack.pop()
            top, left, bottom, right = min(top, r), min(left, c), max(bottom, r), max(right, c)
            for nr in range(max(r - 1, 0), min(r + 2, rows)):
                for nc in range(max(c - 1, 0), min(c + 2, cols)):
                    if cells[nr, nc] and not seen[nr, nc]:
                        seen[nr, nc] = True
                        stack.append((nr, nc))
        boxes.append([int(left * cell), int(top * cell), int((right - left + 1) * cell), int((bottom - top + 1) * cell)])
    return boxes
