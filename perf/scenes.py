"""Time to draw one built-in scene (``builtin`` dead leaves, ``shapes``) and one layered video clip.

    python perf/scenes.py            # 640x384 and 1920x1080, 5 scenes each
    python perf/scenes.py --quick    # 640x384, 2 scenes

Prints wall and CPU milliseconds per scene (median over seeds); CPU time is the fairer number on a shared
machine. The goal for 640x384 is well under a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    import torch

    from simulator.deadleaves import dead_leaves_scene, dead_leaves_video
    from simulator.sources import builtin_scene

    torch.set_num_threads(args.threads)
    sizes = [(384, 640)] if args.quick else [(384, 640), (1080, 1920)]
    count = 2 if args.quick else 5
    makers = {"builtin (dead leaves)": dead_leaves_scene, "shapes": builtin_scene,
              "builtin video, 12 frames": lambda h, w, g: dead_leaves_video(h, w, 12, g)}
    for height, width in sizes:
        for name, make in makers.items():
            walls, cpus = [], []
            for seed in range(count):
                wall, cpu = time.perf_counter(), time.process_time()
                make(height, width, torch.Generator().manual_seed(seed))
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            print(f"{name:26s} {width}x{height}  wall {1000 * statistics.median(walls):8.1f} ms  "
                  f"cpu {1000 * statistics.median(cpus):8.1f} ms")


if __name__ == "__main__":
    main()
