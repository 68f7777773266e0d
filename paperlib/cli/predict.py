"""``python -m paperlib predict`` (``paperlib-predict``): a session's final model on new images, or exported as one
file."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..engine.deploy import apply, export, final_model, image_files, load
from ..runtime import resolve_device
from . import add_debug, command


@command
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m paperlib predict``: apply a session's final model (or an exported one) to a folder of images,
    and optionally export the model."""
    parser = argparse.ArgumentParser(prog="python -m paperlib predict", description="Masks, CAMs and classes of "
                                     "new images from a session's final model; or export that model as one file.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="a session's run folder (results/<profile>/<dataset>/runs/<method>/seed_<s>)")
    source.add_argument("--model", help="a model file written by --export")
    parser.add_argument("--images", help="folder of images to predict (its subfolders too; their outputs go to the "
                        "same subfolders of --out)")
    parser.add_argument("--out", help="folder for <image>_mask.png, <image>_cam.png and predictions.csv")
    parser.add_argument("--export", help="write the final model to this file (loads with weights_only=True)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    add_debug(parser)
    args = parser.parse_args(argv)
    if not args.export and not (args.images and args.out):
        parser.error("give --images and --out, or --export")
    final = final_model(args.run) if args.run else load(args.model)
    if args.export:
        print(f"model written to {export(final, args.export)}")
    if args.images:
        path = apply(final, args.images, args.out, resolve_device(args.device))
        print(f"{len(image_files(args.images, skip=args.out))} image(s) predicted; classes in {path}")
    return 0
