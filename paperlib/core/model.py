"""JointNet: ResNet-18 backbone, WILDCAT classification head (CAMs), U-Net-style segmentation head.

Inputs are RGB batches ``Bx3xHxW`` in [0, 1]; the model normalises them with ImageNet statistics itself.
The model knows nothing of active learning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from torchvision.models import ResNet18_Weights, resnet18

from ..errors import WeightsError
from .seeds import hashed_seed

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STAGE_CHANNELS = (64, 64, 128, 256, 512)  # layer0 (H/2), layer1 (H/4), layer2 (H/8), layer3 (H/16), layer4 (H/32)


def _k(k: float, n: int) -> int:
    """WILDCAT region size: a fraction of ``n`` when ``k < 1`` (at least 1), else a count (at most ``n``)."""
    if k <= 0:
        return 0
    if k < 1:
        return max(1, round(k * n))
    return min(n, int(k))


def wildcat_pool(maps: torch.Tensor, kmax: float, kmin: float, alpha: float) -> torch.Tensor:
    """WILDCAT spatial pooling (Durand et al. 2017) of class maps ``BxCxhxw`` to scores ``BxC``.

    Mean of the ``kmax`` highest activations plus ``alpha`` times the mean of the ``kmin`` lowest.
    """
    flat = maps.flatten(2)
    n = flat.shape[-1]
    score = flat.topk(_k(kmax, n), dim=-1).values.mean(-1)
    n_min = _k(kmin, n)
    if n_min > 0 and alpha != 0:
        score = score - alpha * flat.neg().topk(n_min, dim=-1).values.mean(-1)
    return score


class WildcatHead(nn.Module):
    """1x1 conv to ``num_classes x modalities`` maps, class-wise mean over modalities, WILDCAT pooling."""

    def __init__(self, in_channels: int, num_classes: int, modalities: int = 5,
                 kmax: float = 0.1, kmin: float = 0.1, alpha: float = 0.6) -> None:
        super().__init__()
        self.num_classes, self.modalities = num_classes, modalities
        self.kmax, self.kmin, self.alpha = kmax, kmin, alpha
        self.to_modalities = nn.Conv2d(in_channels, num_classes * modalities, kernel_size=1)

    def class_maps(self, feat: torch.Tensor) -> torch.Tensor:
        """``BxDxhxw`` -> class maps ``BxCxhxw``."""
        b, _, h, w = feat.shape
        return self.to_modalities(feat).view(b, self.num_classes, self.modalities, h, w).mean(2)

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``BxDxhxw`` -> (scores ``BxC``, class maps ``BxCxhxw``)."""
        maps = self.class_maps(feat)
        return wildcat_pool(maps, self.kmax, self.kmin, self.alpha), maps


def pass_mask_seed(seed: int, site: int, pass_index: int, key: int) -> int:
    """The seed of one MC dropout mask: (stream seed, site, pass, image key) hashed."""
    return hashed_seed(seed, site, pass_index, key)


class SiteDropout(nn.Module):
    """Element-wise dropout at one site of the segmentation head.

    Active in training mode when ``p > 0``, and in any mode while ``mc`` is set (MC dropout sampling). With an MC
    ``seed``, the input's rows are ``passes`` pass-major blocks of the images ``keys``, and the mask of pass
    ``first_pass + q`` on image ``keys[j]`` comes from its own generator (:func:`pass_mask_seed`): it depends on
    neither the chunking of passes and images nor the batch an image is in.
    """

    def __init__(self, p: float = 0.0, index: int = 0) -> None:
        super().__init__()
        self.p, self.mc, self.index = p, False, index
        self.seed: int | None = None
        self.first_pass, self.passes, self.keys = 0, 1, ()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.p > 0 and (self.training or self.mc)):
            return x
        if not self.mc or self.seed is None:
            return F.dropout(x, self.p, training=True)
        keys = list(self.keys) or list(range(x.shape[0] // self.passes))
        keep = []
        for q in range(self.passes):
            for key in keys:
                gen = torch.Generator(device=x.device).manual_seed(
                    pass_mask_seed(self.seed, self.index, self.first_pass + q, key))
                keep.append(torch.rand(x.shape[1:], generator=gen, device=x.device) >= self.p)
        return x * torch.stack(keep).to(x.dtype) / (1.0 - self.p)


def _conv_bn_relu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class SegHead(nn.Module):
    """U-Net-style decoder over the five backbone stages, fused with a full-resolution stem on the image.

    Lateral 1x1 convs reduce each stage; each decoder block upsamples, concatenates the next finer lateral,
    applies a 3x3 conv + BN + ReLU and a dropout site. The last block is upsampled to the input size,
    concatenated with the stem (two 3x3 convs on the image) and mapped to one foreground logit per pixel.
    """

    def __init__(self, width: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        w = width
        lat = (w, w, 2 * w, 4 * w, 8 * w)
        self.laterals = nn.ModuleList(_conv_bn_relu(c, o, 1) for c, o in zip(STAGE_CHANNELS, lat, strict=True))
        self.blocks = nn.ModuleList(_conv_bn_relu(lat[i + 1] + lat[i], lat[i]) for i in range(3, -1, -1))
        self.sites = nn.ModuleList(SiteDropout(dropout, i) for i in range(len(self.blocks)))
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True))
        self.fuse = nn.Sequential(nn.Conv2d(2 * w, w, 3, padding=1), nn.ReLU(inplace=True))
        self.last = nn.Conv2d(w, 1, 1)
        # Training: when > 0, the full-resolution stem and output layers (no BatchNorm, no dropout) run on chunks of
        # this many images and are recomputed in the backward pass instead of keeping their activations, so a batch
        # of large crops fits in memory; BatchNorm still sees the whole batch (set by the trainer)
        self.recompute_rows = 0

    def _tail(self, d: torch.Tensor, stem: torch.Tensor) -> torch.Tensor:
        """The last decoder output ``Bxwxhxw`` upsampled to the stem's ``HxW``, fused with it -> logits
        ``Bx1xHxW``."""
        d = F.interpolate(d, size=stem.shape[-2:], mode="bilinear", align_corners=False)
        return self.last(self.fuse(torch.cat([d, stem], 1)))

    def _stem_tail(self, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self._tail(d, self.stem(x))

    def forward(self, x: torch.Tensor, feats: list[torch.Tensor], passes: int = 1) -> torch.Tensor:
        """Normalised image ``Bx3xHxW`` and the five stage features -> logits ``Bx1xHxW``.

        ``passes`` > 1 (MC dropout): everything upstream of the first dropout site is computed once
        (:meth:`upstream`), then the ``passes`` stochastic continuations run as one batch (:meth:`passes_from`);
        the result is ``(passes*B)x1xHxW``, pass-major.
        """
        if self.recompute_rows and torch.is_grad_enabled() and passes == 1:
            lats, d = self._low(feats)
            d, n = self._decode(lats, d, 1), self.recompute_rows
            return torch.cat([checkpoint(self._stem_tail, d[i:i + n], x[i:i + n], use_reentrant=False)
                              for i in range(0, x.shape[0], n)])
        return self.passes_from(self.upstream(x, feats), passes)

    def _low(self, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The laterals and the first block's output."""
        lats = [lat(f) for lat, f in zip(self.laterals, feats, strict=True)]
        d = F.interpolate(lats[4], size=lats[3].shape[-2:], mode="bilinear", align_corners=False)
        return lats, self.blocks[0](torch.cat([d, lats[3]], 1))

    def upstream(self, x: torch.Tensor, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor,
                                                                             torch.Tensor]:
        """What precedes the first dropout site: the laterals, the stem ``BxwxHxW`` and the first block's output."""
        lats, d = self._low(feats)
        return lats, self.stem(x), d

    def _decode(self, lats: list[torch.Tensor], d: torch.Tensor, passes: int) -> torch.Tensor:
        """The dropout sites and the decoder blocks up to half resolution (inputs repeated ``passes`` times)."""
        d = self.sites[0](d)
        for block, site, skip in zip(self.blocks[1:], self.sites[1:], lats[2::-1], strict=True):
            d = F.interpolate(d, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            if passes > 1:
                skip = skip.repeat(passes, 1, 1, 1)
            d = site(block(torch.cat([d, skip], 1)))
        return d

    def passes_from(self, up: tuple[list[torch.Tensor], torch.Tensor, torch.Tensor], passes: int = 1,
                    first_pass: int = 0, keys: Sequence[int] = ()) -> torch.Tensor:
        """Passes ``first_pass .. first_pass + passes - 1`` from :meth:`upstream`'s output: logits
        ``(passes*B)x1xHxW``, pass-major (a chunk of MC dropout's passes; ``keys`` name the B images)."""
        lats, stem, d = up
        for site in self.sites:
            site.first_pass, site.passes, site.keys = first_pass, passes, tuple(keys)
        if passes == 1:
            return self._tail(self._decode(lats, d, 1), stem)
        d = self._decode(lats, d.repeat(passes, 1, 1, 1), passes)
        # _tail for every pass: the fuse convolution is linear in its input channels, so the stem's share (the
        # same in every pass) is computed once and added to each pass's share
        conv = self.fuse[0]
        w_d, w_stem = conv.weight.split([d.shape[1], stem.shape[1]], dim=1)
        from_stem = F.conv2d(stem, w_stem, conv.bias, padding=conv.padding)
        d = F.interpolate(d, size=stem.shape[-2:], mode="bilinear", align_corners=False)
        fused = F.conv2d(d, w_d, None, padding=conv.padding)
        fused = fused.view(passes, *from_stem.shape).add_(from_stem).relu_()
        return self.last(fused.view(-1, *from_stem.shape[1:]))


class JointOutput(NamedTuple):
    scores: torch.Tensor  # BxC class scores (logits)
    maps: torch.Tensor  # BxCxhxw class maps at layer4 resolution
    seg: torch.Tensor  # Bx1xHxW segmentation logits


def load_backbone_weights(pretrained: str, progress: bool = False) -> dict[str, torch.Tensor]:
    """ResNet-18 state dict: ``"imagenet"`` through torchvision's weights API (torch hub cache, downloading
    where a network is reachable), or a local ``.pth`` file. Raises :class:`WeightsError` when neither works."""
    if pretrained == "imagenet":
        weights = ResNet18_Weights.IMAGENET1K_V1
        try:
            return weights.get_state_dict(progress=progress)
        except Exception as exc:  # network, proxy or disk errors all mean the same thing to the user
            cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
            raise WeightsError(
                f"ImageNet weights for ResNet-18 could not be loaded ({type(exc).__name__}: {exc}). "
                f"Place {Path(weights.url).name} at {cache}, or set pretrained to a local state-dict file, "
                f"or use pretrained='' for a random init.") from exc
    path = Path(pretrained)
    if not path.is_file():
        raise WeightsError(f"{path}: pretrained weights file not found (pretrained must be '', 'imagenet' or a file)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable state-dict file ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


class JointNet(nn.Module):
    """ResNet-18 + WILDCAT (classification, CAMs) + U-Net-style segmentation head.

    ``seed`` makes the random initialisation reproducible without touching the global RNG.
    """

    def __init__(self, num_classes: int, *, pretrained: str = "", modalities: int = 5, kmax: float = 0.1,
                 kmin: float = 0.1, alpha: float = 0.6, seg_width: int = 32, seg_dropout: float = 0.0,
                 seed: int = 0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = resnet18(weights=None)
            self.classifier = WildcatHead(512, num_classes, modalities, kmax, kmin, alpha)
            self.seg_head = SegHead(seg_width, seg_dropout)
        if pretrained:
            state = {k: v for k, v in load_backbone_weights(pretrained).items() if not k.startswith("fc.")}
            missing, unexpected = net.load_state_dict(state, strict=False)
            missing = [k for k in missing if not k.startswith("fc.")]
            if missing or unexpected:
                raise WeightsError(f"{pretrained}: not ResNet-18 weights (missing {missing[:3]}, "
                                   f"unexpected {unexpected[:3]})")
        self.layer0 = nn.Sequential(net.conv1, net.bn1, net.relu)
        self.layer1 = nn.Sequential(net.maxpool, net.layer1)
        self.layer2, self.layer3, self.layer4 = net.layer2, net.layer3, net.layer4
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.num_classes = num_classes
        self.frozen = False

    @property
    def backbone(self) -> list[nn.Module]:
        return [self.layer0, self.layer1, self.layer2, self.layer3, self.layer4]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``Bx3xHxW`` in [0, 1] -> ImageNet-normalised."""
        return (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Normalised ``Bx3xHxW`` -> the five stage features (64@H/2, 64@H/4, 128@H/8, 256@H/16, 512@H/32)."""
        feats = []
        for layer in self.backbone:
            x = layer(x)
            feats.append(x)
        return feats

    def forward(self, x: torch.Tensor) -> JointOutput:
        """``Bx3xHxW`` in [0, 1] -> class scores, class maps and segmentation logits."""
        xn = self.normalize(x)
        feats = self.features(xn)
        scores, maps = self.classifier(feats[-1])
        return JointOutput(scores, maps, self.seg_head(xn, feats))

    def classify(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Bx3xHxW`` in [0, 1] -> (scores ``BxC``, class maps ``BxCxhxw``); skips the segmentation head."""
        return self.classifier(self.features(self.normalize(x))[-1])

    def segment(self, x: torch.Tensor) -> torch.Tensor:
        """``Bx3xHxW`` in [0, 1] -> segmentation logits ``Bx1xHxW``; the backbone runs without gradients when
        frozen."""
        xn = self.normalize(x)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            feats = self.features(xn)
        return self.seg_head(xn, feats)

    def cams(self, x: torch.Tensor) -> torch.Tensor:
        """Class activation maps ``BxCxHxW``, bilinearly upsampled to the input size."""
        _, maps = self.classify(x)
        return F.interpolate(maps, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def freeze_classifier(self) -> None:
        """Freeze backbone and WILDCAT head (no gradients, BN statistics fixed); only the head then learns."""
        self.frozen = True
        for module in [*self.backbone, self.classifier]:
            for p in module.parameters():
                p.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> JointNet:
        super().train(mode)
        if self.frozen:
            for module in [*self.backbone, self.classifier]:
                module.eval()
        return self

    def head_parameters(self) -> list[nn.Parameter]:
        """Parameters of the segmentation head."""
        return list(self.seg_head.parameters())

    @contextmanager
    def mc_dropout(self, p: float, seed: int | None = None) -> Iterator[None]:
        """Within the block the head's dropout sites drop with probability ``p`` in any mode (MC dropout); with
        ``seed``, each pass's masks come from (seed, site, pass) alone (see :class:`SiteDropout`), else from torch's
        global generator."""
        sites = [m for m in self.seg_head.modules() if isinstance(m, SiteDropout)]
        saved = [(s.p, s.mc, s.seed) for s in sites]
        for s in sites:
            s.p, s.mc, s.seed = p, True, seed
        try:
            yield
        finally:
            for s, (sp, smc, sseed) in zip(sites, saved, strict=True):
                s.p, s.mc, s.seed = sp, smc, sseed
