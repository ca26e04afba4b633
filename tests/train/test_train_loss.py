"""Loss maths of the editor training objective against a direct, element-by-element computation."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from insvie.train.loss import editor_loss, frame_weights, training_alphas_cumprod, v_target  # noqa: E402


def test_schedule_is_zero_terminal_snr_with_shift():
    a = training_alphas_cumprod()
    assert a.shape == (1000,)
    assert a[-1].item() == 0.0
    assert bool((a[1:] <= a[:-1]).all())
    # The 3.0 shift makes the first step noisier than the plain scaled-linear DDPM schedule.
    assert 0.99 < a[0].item() < 1 - 0.00085


def _direct(pred, x0, eps, t, a, frame_weighting):
    b, f = x0.shape[:2]
    total = 0.0
    for n in range(b):
        ab = float(a[t[n]])
        per_frame = []
        for i in range(f):
            xt = math.sqrt(ab) * x0[n, i] + math.sqrt(1 - ab) * eps[n, i]
            x0_hat = math.sqrt(ab) * xt - math.sqrt(1 - ab) * pred[n, i]
            per_frame.append(float(((x0_hat - x0[n, i]) ** 2).mean()) / (1 - ab))
        plain = sum(per_frame) / f
        if frame_weighting:
            weighted = sum((1 - i / f) ** 2 * m for i, m in enumerate(per_frame)) / f
            total += 0.5 * plain + 0.5 * weighted
        else:
            total += plain
    return total / b


@pytest.mark.parametrize("frame_weighting", [True, False])
def test_editor_loss_matches_direct_computation(frame_weighting):
    g = torch.Generator().manual_seed(0)
    shape = (3, 4, 2, 3, 5)
    x0, eps, pred = (torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3))
    a = training_alphas_cumprod()
    t = torch.tensor([0, 500, 999])
    got = editor_loss(pred, x0, eps, t, a, frame_weighting=frame_weighting)
    assert got.ndim == 0
    assert got.item() == pytest.approx(_direct(pred, x0, eps, t, a, frame_weighting), rel=1e-5)


def test_weighted_x0_error_equals_v_mse():
    g = torch.Generator().manual_seed(1)
    shape = (2, 3, 4, 2, 2)
    x0, eps, pred = (torch.randn(shape, generator=g) for _ in range(3))
    a = training_alphas_cumprod()
    t = torch.tensor([10, 700])
    v = v_target(x0, eps, a, t)
    assert editor_loss(pred, x0, eps, t, a, frame_weighting=False).item() == pytest.approx(
        ((pred - v) ** 2).mean().item(), rel=1e-5
    )
    # The exact v target gives zero loss, at the zero-SNR end too.
    assert (
        editor_loss(v_target(x0, eps, a, torch.tensor([999, 0])), x0, eps, torch.tensor([999, 0]), a) < 1e-8
    )


def test_frame_weights_and_clamp():
    assert frame_weights(4).tolist() == pytest.approx([1.0, 0.5625, 0.25, 0.0625])
    ones = torch.ones(1000, dtype=torch.float64)  # a schedule with alpha_bar = 1 everywhere
    x = torch.randn(1, 2, 1, 2, 2)
    assert torch.isfinite(editor_loss(x, x, x, torch.tensor([0]), ones))


def test_shape_mismatch_is_an_error():
    a = training_alphas_cumprod()
    with pytest.raises(ValueError, match="shape mismatch"):
        editor_loss(
            torch.zeros(1, 2, 3, 4, 4),
            torch.zeros(1, 2, 3, 4, 5),
            torch.zeros(1, 2, 3, 4, 5),
            torch.tensor([1]),
            a,
        )
