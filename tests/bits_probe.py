"""The bits a CPU computes under the reproducibility setting (:mod:`paperlib.bits`), as hashes.

Builds the demo's GlaS-like benchmark and model the way the package does, then: one classifier epoch (67 images,
batch 16: four full batches and a partial one, which takes another kernel path), one segmentation epoch on 16
masks (batch 8), an evaluation of the test split, the Entropy scores of its probability maps and the same-class
colour distances of the training images. Prints one JSON object: the hashes and the machine
(:func:`paperlib.store.machine`).

    python tests/bits_probe.py             # print
    python tests/bits_probe.py --write     # also store the hashes as the committed value (tests/bits_hash.json)

``tests/test_bits.py`` runs it in a child process under the setting and compares with ``tests/bits_hash.json``.
"""

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: the setting is applied before numpy and torch load)

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from paperlib import config, data, store
from paperlib.core import samplers, similarity
from paperlib.engine import predict, train

COMMITTED = Path(__file__).with_name("bits_hash.json")


def digest(*values: object) -> str:
    """SHA-256 (16 hex digits) of tensors, arrays, numbers and dicts of them, in order."""
    h = hashlib.sha256()

    def add(v: object) -> None:
        if isinstance(v, dict):
            for k in sorted(v):
                h.update(str(k).encode())
                add(v[k])
        elif isinstance(v, list | tuple):
            for x in v:
                add(x)
        elif isinstance(v, str):
            h.update(v.encode())
        elif isinstance(v, torch.Tensor):
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(v, np.ndarray):
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(np.float64(v).tobytes())

    for v in values:
        add(v)
    return h.hexdigest()[:16]


def probe(folder: Path) -> dict[str, str]:
    """The hashes of each stage (see the module docstring); ``folder`` receives the synthetic benchmark."""
    cfg = config.get("demo", dataset="glas", cl_epochs=1, seg_epochs=1, eval_every=1)
    splits = data.from_config(cfg, data_dir=folder)
    out = {"images": digest([splits.train[i][0] for i in range(len(splits.train))])}
    model = train.build_model(cfg, len(splits.class_names), seed=0)
    out["initial_weights"] = digest(model.state_dict())
    hist = train.train_classifier(model, splits.train, splits.valid, cfg, seed=0, progress=False)
    out["classifier"] = digest(model.state_dict(), [(e["loss"], e.get("valid", -1.0)) for e in hist.epochs])
    items = train.SegItems(splits.train, indices=list(range(16)))
    hist = train.train_segmentation(model, items, splits.valid, cfg, seed=1, progress=False)
    out["segmentation"] = digest(model.state_dict(), [(e["loss"], e.get("valid", -1.0)) for e in hist.epochs])
    preds = list(predict.iter_predictions(model, splits.test, cfg))
    out["evaluation"] = digest([(p.scores, p.prob, p.cam) for p in preds])
    out["entropy"] = digest([samplers.entropy_score(p.prob) for p in preds])
    paths = [r.image for r in splits.train.records]
    hists = similarity.histograms(paths, progress=False)
    out["distances"] = digest(similarity.class_distances(hists, splits.train.labels))
    out["all"] = digest(dict(out))
    return out


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        hashes = probe(Path(tmp))
    print(json.dumps({"hashes": hashes, "machine": store.machine()}, indent=1))
    if "--write" in argv:
        COMMITTED.write_text(json.dumps(hashes, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
