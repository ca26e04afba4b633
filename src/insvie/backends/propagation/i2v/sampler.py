"""Deterministic inversion and injected regeneration in a model's own sigma space, for any I2V model.

Both model families here sample an ODE in a noise level sigma with first-order Euler steps
``x <- x + (sigma_next - sigma) * d(x, sigma)``: Stable Video Diffusion's EDM sampler
(``d = (x - x0) / sigma``, sigma from ~700 down to 0) and flow matching (``d`` = the predicted velocity,
sigma from 1 down to 0). Inversion runs the same Euler steps up the schedule, evaluating ``d`` where it
stands (the DDIM-inversion approximation): no noise is drawn, so a video maps to one noisy latent.

That approximation does not retrace itself: going down, step ``k`` evaluates ``d`` at level ``k``
where going up it was evaluated at level ``k + 1``, and with a couple of dozen large EDM steps (or an
untrained model) the gap is anything but small. Regeneration therefore adds, at every step, the
source's one-step error: where the inversion put level ``k + 1`` minus where a step from the inverted
level ``k`` lands (Direct Inversion, Ju et al., ICLR 2024). The derivative at every inverted level is
already known from the inversion, so the correction costs nothing, and an unchanged, unguided first
frame reproduces the source exactly.

Feature injection (AnyV2V / plug-and-play): for the first steps a *source* branch denoises the
inverted latent of that level under the source conditioning while hooks record its features, and the
*edited* branch, conditioned on the edited first frame, runs with those features swapped in, so it
inherits the source's layout and motion. The source branch is guided like the edited one (its halves
match the edited halves), and its guided derivative replaces the unguided one in that step's
correction: an unchanged first frame then reproduces the source even under guidance over the injected
steps, while the remaining steps depart by what guidance adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from insvie.backends.propagation.i2v.injection import FeatureInjector


@dataclass(frozen=True)
class Schedule:
    """Noise levels (descending, ending at 0) and the model timestep of each; ``clean_index`` is the
    level where a clean latent is placed for inversion: the last one for flow matching (sigma 0 is a
    valid model input), the one before for EDM (the model is undefined at sigma 0, sigma_min ~0.002
    is clean to within 0.002 of noise)."""

    sigmas: list[float]
    timesteps: list[Any]
    clean_index: int

    @property
    def steps(self) -> int:
        return len(self.sigmas) - 1


@dataclass(frozen=True)
class Inversion:
    """The inverted trajectory ``{level: latent}`` (levels 0..steps; the clean latents at the last)
    and the unguided derivative the inversion evaluated at each of the levels 0..steps-1."""

    latents: dict[int, Any]
    derivatives: dict[int, Any]

    @property
    def noisy(self) -> Any:
        """The latent at level 0, where regeneration starts."""
        return self.latents[0]


class Denoiser(Protocol):
    """What a backend exposes to the sampler: the ODE's derivative at level ``index`` of the schedule."""

    def derivative(self, latents: Any, schedule: Schedule, index: int, condition: Any, guided: bool) -> Any:
        """``dx/dsigma`` at ``latents``; ``guided`` applies the backend's classifier-free guidance."""
        ...


def steps_injected(fraction: float, steps: int) -> int:
    """How many of the first sampling steps get source features (AnyV2V's tau: a fraction of steps)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"injection fraction must be in [0, 1], got {fraction}")
    return round(fraction * steps)


def invert(model: Denoiser, latents: Any, schedule: Schedule, condition: Any) -> Inversion:
    """Run the Euler ODE backwards from the clean ``latents`` up to level 0, unguided.

    Unguided because guidance would push the trajectory off the one the conditional model
    reconstructs. One more evaluation at level 0 completes the derivatives regeneration corrects with.
    """
    sigmas = schedule.sigmas
    x = latents
    trajectory = {schedule.clean_index: x, schedule.steps: latents}
    derivatives = {}
    for index in range(schedule.clean_index, -1, -1):
        derivatives[index] = d = model.derivative(x, schedule, index, condition, guided=False)
        if index == 0:
            break
        x = x + (sigmas[index - 1] - sigmas[index]) * d
        trajectory[index - 1] = x
    return Inversion(trajectory, {k: v for k, v in derivatives.items() if k < schedule.steps})


def sample(
    model: Denoiser,
    start: Any,
    schedule: Schedule,
    condition: Any,
    *,
    source: tuple[Inversion, Any] | None = None,
    injector: FeatureInjector | None = None,
    feature_steps: int = 0,
    attention_steps: int = 0,
    correct: bool = True,
) -> Any:
    """Euler sampling from ``start`` (at level 0) to sigma 0 under ``condition``.

    With ``source=(inversion, source_condition)``: every step adds the source's one-step error when
    ``correct``; with an ``injector`` too, each of the first ``max(feature_steps, attention_steps)``
    steps first runs the guided source branch on the inverted latent of that level (recording), then
    the edited branch with the recorded resnet/block outputs for ``index < feature_steps`` and
    self-attention queries and keys for ``index < attention_steps``.
    """
    sigmas = schedule.sigmas
    x = start
    for index in range(schedule.steps):
        step = sigmas[index + 1] - sigmas[index]
        inject_features, inject_attention = index < feature_steps, index < attention_steps
        d_source = None
        if source is not None and injector is not None and (inject_features or inject_attention):
            inversion, source_condition = source
            with injector.recording():
                d_source = model.derivative(
                    inversion.latents[index], schedule, index, source_condition, guided=True
                )
            with injector.injecting(features=inject_features, attention=inject_attention):
                d = model.derivative(x, schedule, index, condition, guided=True)
        else:
            d = model.derivative(x, schedule, index, condition, guided=True)
        x = x + step * d
        if source is not None and correct:
            inversion = source[0]
            if d_source is None:
                d_source = inversion.derivatives[index]
            x = x + (inversion.latents[index + 1] - inversion.latents[index] - step * d_source)
    return x
