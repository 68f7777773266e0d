import torch

from paperlib.core.transforms import TrainTransform, eval_size


def test_train_transform_moves_image_and_mask_together():
    h, w = 30, 40
    image = torch.zeros(3, h, w)
    mask = torch.zeros(1, h, w)
    image[:, 5:12, 3:20] = 1.0
    mask[:, 5:12, 3:20] = 1.0
    tf = TrainTransform(min_side=30, crop=24, scale=1.0, hflip=True, vflip=True)
    for s in range(20):
        g = torch.Generator().manual_seed(s)
        x, m = tf(image, mask, g)
        assert x.shape == (3, 24, 24) and m.shape == (1, 24, 24)
        assert torch.equal(x[0] > 0.5, m[0] > 0.5)  # same crop, same flips
        assert set(m.unique().tolist()) <= {0.0, 1.0}
        x2, m2 = tf(image, mask, torch.Generator().manual_seed(s))
        assert torch.equal(x, x2) and torch.equal(m, m2)  # the generator alone decides


def test_train_transform_upscales_and_scales():
    tf = TrainTransform(min_side=48, crop=40, scale=0.5, hflip=False, vflip=False)
    x, m = tf(torch.rand(3, 20, 30), torch.ones(1, 20, 30), torch.Generator().manual_seed(0))
    assert x.shape == (3, 20, 20) and m.shape == (1, 20, 20) and m.eq(1).all()
    assert eval_size(20, 30, 48, 0.5) == (24, 36)
    assert eval_size(100, 200, 48, 1.0) == (100, 200)
