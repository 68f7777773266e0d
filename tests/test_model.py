from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18

from paperlib.core import model as model_mod
from paperlib.core.model import JointNet, SiteDropout, WeightsError, wildcat_pool


def test_shapes():
    net = JointNet(3, seg_width=8, seed=0).eval()
    x = torch.rand(2, 3, 64, 80)
    out = net(x)
    assert out.scores.shape == (2, 3)
    assert out.maps.shape == (2, 3, 2, 3)  # layer4: stride 32
    assert out.seg.shape == (2, 1, 64, 80)  # full resolution
    assert net.cams(x).shape == (2, 3, 64, 80)
    feats = net.features(net.normalize(x))
    assert [f.shape[1] for f in feats] == [64, 64, 128, 256, 512]
    assert [f.shape[-1] for f in feats] == [40, 20, 10, 5, 3]
    assert torch.allclose(net.classify(x)[0], out.scores)
    assert torch.allclose(net.segment(x), out.seg)


def test_wildcat_score_by_hand():
    # one image, one class, a 3x4 map: 12 values; kmax=0.25 -> top 3, kmin=2 -> bottom 2, alpha 0.6
    m = torch.tensor([[[[5.0, -1.0, 2.0, 0.0], [7.0, 3.0, -4.0, 1.0], [6.0, 0.5, -2.0, 4.0]]]])
    top = (7 + 6 + 5) / 3
    bottom = (-4 + -2) / 2
    assert wildcat_pool(m, kmax=0.25, kmin=2, alpha=0.6).item() == pytest.approx(top + 0.6 * bottom)
    # kmin works: changing the lowest value changes the score (the reference code drops this term)
    m2 = m.clone()
    m2[0, 0, 1, 2] = -10.0
    assert wildcat_pool(m2, 0.25, 2, 0.6).item() == pytest.approx(top + 0.6 * (-10 - 2) / 2)
    assert wildcat_pool(m, 0.25, 0.0, 0.6).item() == pytest.approx(top)
    # fraction 0.1 of 12 values rounds to 1
    assert wildcat_pool(m, 0.1, 0.1, 1.0).item() == pytest.approx(7.0 - 4.0)


def test_wildcat_head_averages_modalities():
    net = JointNet(2, modalities=5, seg_width=8, seed=0)
    feat = torch.randn(1, 512, 3, 3)
    raw = net.classifier.to_modalities(feat).view(1, 2, 5, 3, 3)
    assert torch.allclose(net.classifier.class_maps(feat), raw.mean(2))


def test_same_seed_same_init_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = JointNet(2, seg_width=8, seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = JointNet(2, seg_width=8, seed=7)
    c = JointNet(2, seg_width=8, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["seg_head.last.weight"], sc["seg_head.last.weight"])


def test_freeze_classifier():
    net = JointNet(2, seg_width=8, seed=0)
    net.freeze_classifier()
    net.train()
    assert all(not p.requires_grad for m in [*net.backbone, net.classifier] for p in m.parameters())
    assert all(p.requires_grad for p in net.head_parameters())
    assert not net.layer1.training and not net.classifier.training and net.seg_head.training
    x = torch.rand(2, 3, 32, 32)
    bn_before = net.layer0[1].running_mean.clone()
    net.segment(x).sum().backward()
    assert torch.equal(net.layer0[1].running_mean, bn_before)
    assert all(p.grad is None for p in net.layer4.parameters())
    assert net.seg_head.last.weight.grad is not None


def test_mc_dropout_sites():
    net = JointNet(2, seg_width=8, seed=0).eval()
    sites = [m for m in net.seg_head.modules() if isinstance(m, SiteDropout)]
    assert len(sites) == 4
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        det1, det2 = net.segment(x), net.segment(x)
        assert torch.equal(det1, det2)
        with net.mc_dropout(0.2):
            s1, s2 = net.segment(x), net.segment(x)
        assert not torch.equal(s1, s2)
        assert torch.equal(net.segment(x), det1)  # restored afterwards
    assert all(s.p == 0.0 and not s.mc for s in sites)


def test_pretrained_from_file(tmp_path: Path):
    ref = resnet18(weights=None)
    torch.nn.init.constant_(ref.conv1.weight, 0.25)
    path = tmp_path / "r18.pth"
    torch.save(ref.state_dict(), path)
    net = JointNet(2, pretrained=str(path), seg_width=8)
    assert torch.equal(net.layer0[0].weight, ref.conv1.weight)
    assert torch.equal(net.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)
    with pytest.raises(WeightsError, match="not found"):
        JointNet(2, pretrained=str(tmp_path / "missing.pth"))
    (tmp_path / "bad.pth").write_bytes(b"garbage")
    with pytest.raises(WeightsError, match="bad.pth: not a readable state-dict"):
        JointNet(2, pretrained=str(tmp_path / "bad.pth"))
    torch.save({"foo": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="not ResNet-18 weights"):
        JointNet(2, pretrained=str(tmp_path / "other.pth"))


def test_imagenet_weights_from_torch_cache_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsError, match="ImageNet weights for ResNet-18 could not be loaded.*resnet18-"):
        model_mod.load_backbone_weights("imagenet")
    # a file already in the torch cache is used as it is (what a first online run leaves behind)
    ref = resnet18(weights=None)
    torch.nn.init.constant_(ref.conv1.weight, 0.5)
    url = model_mod.ResNet18_Weights.IMAGENET1K_V1.url
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(ref.state_dict(), cache / url.rsplit("/", 1)[-1])
    net = JointNet(2, pretrained="imagenet", seg_width=8)
    assert torch.equal(net.layer0[0].weight, ref.conv1.weight)


def test_batched_mc_passes_share_the_upstream_work():
    net = JointNet(2, seg_width=8, seed=0).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        xn = net.normalize(x)
        feats = net.features(xn)
        single = net.seg_head(xn, feats)
        batched = net.seg_head(xn, feats, passes=3)  # dropout off: three copies of the same output
        assert batched.shape == (6, 1, 64, 64)
        assert torch.allclose(batched.view(3, 2, 1, 64, 64), single.expand(3, -1, -1, -1, -1), atol=1e-5)
        with net.mc_dropout(0.2):
            mc = net.seg_head(xn, feats, passes=3).view(3, 2, 1, 64, 64)
        assert not torch.equal(mc[0], mc[1])  # the passes draw their own dropout masks
