"""``InsViEDPMScheduler``: the released InsViE sampler as a diffusers scheduler.

The official inference (``configs/inference_2b_edit.yaml``) samples with SAT's ``VPSDEDPMPP2MSampler``, a
stochastic DPM-Solver++(2M) for a v-prediction model, over ``ZeroSNRDDPMDiscretization(shift_scale=3)``,
and the ``DiscreteDenoiser`` turns the model's v into x0. Three details make it differ from diffusers'
``CogVideoXDPMScheduler``, and all three are reproduced here:

1. The zero-terminal-SNR rescale runs over the *sampled subset* of timesteps. The sampler picks
   ``linspace(999, 0, N, endpoint=False)`` (as int, ascending), takes the SNR-shifted
   ``alphas_cumprod`` there, and rescales ``sqrt(alphas_cumprod)`` so that the subset's last value is 0
   and its first keeps its value. Its ``a_t`` therefore differs from the 1000-entry table's at the same
   timestep (0.1072 against 0.1047 at t=749 with 4 steps); at 1000 steps the two agree.
2. The denoiser snaps the sampler's ``a_t`` to the nearest entry of the 1000-entry table (rescaled over
   all 1000 timesteps) and uses that for ``x0 = a * x - sqrt(1 - a^2) * v``, while the network is fed
   the visited timestep itself.
3. Each middle step draws two noise tensors and uses the second (the first belongs to a first-order
   update that is computed and thrown away); the first step draws one, the last none and returns the
   x0 prediction. Drawing them in that order keeps a seeded run on the same random stream as the
   official code on the same device; ``variance_noise`` in :meth:`step` injects the noise instead.

All arithmetic is float32 on torch tensors, in the official order of operations, so a float32 run
matches the official one to float rounding (see ``tests/editor/test_editor_official_parity.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor


@dataclass
class InsViEDPMSchedulerOutput(BaseOutput):
    """``prev_sample``: x after the step (float32); ``pred_original_sample``: the step's x0 prediction."""

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


def _shifted_alphas_cumprod(num: int, beta_start: float, beta_end: float, shift: float) -> np.ndarray:
    """float64 ``alphas_cumprod`` of the sqrt-linear beta schedule after the SNR shift, index = timestep."""
    betas = (torch.linspace(beta_start**0.5, beta_end**0.5, num, dtype=torch.float64) ** 2).numpy()
    alphas_cumprod = np.cumprod(1.0 - betas, axis=0)
    return alphas_cumprod / (shift + (1 - shift) * alphas_cumprod)


def _zero_snr_sqrt(alphas_cumprod: np.ndarray) -> torch.Tensor:
    """float32 ``sqrt(alphas_cumprod)`` of ascending timesteps, rescaled to end at 0 and keep its start."""
    sqrt = torch.tensor(alphas_cumprod, dtype=torch.float32).sqrt()
    first, last = sqrt[0].clone(), sqrt[-1].clone()
    sqrt -= last
    sqrt *= first / (first - last)
    return sqrt


class InsViEDPMScheduler(SchedulerMixin, ConfigMixin):
    """Stochastic DPM-Solver++(2M) over the zero-SNR DDPM schedule, exactly as InsViE's inference samples.

    ``step`` takes the (guided) v-prediction and keeps the previous x0 prediction itself, so it is called
    like any diffusers scheduler: ``set_timesteps(N)``, then ``step(v, t, x, generator=g)`` for each
    ``t`` in ``timesteps``. Samples are float32 throughout, as the official sampler state is.
    """

    order = 1

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_start: float = 0.00085,
        beta_end: float = 0.012,
        snr_shift_scale: float = 3.0,
        prediction_type: str = "v_prediction",
    ) -> None:
        if prediction_type != "v_prediction":
            raise ValueError(f"InsViEDPMScheduler samples v-prediction models, not {prediction_type!r}")
        self._alphas_cumprod64 = _shifted_alphas_cumprod(
            num_train_timesteps, beta_start, beta_end, snr_shift_scale
        )
        # The denoiser's table, index = timestep: [0] ~ 0.9987, [999] = 0 exactly.
        self.alphas_cumprod_sqrt = _zero_snr_sqrt(self._alphas_cumprod64)
        self.alphas_cumprod = self.alphas_cumprod_sqrt**2
        self.init_noise_sigma = 1.0
        self.num_inference_steps: int | None = None
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)
        self.sampling_alphas: torch.Tensor | None = None
        self._step_index: int | None = None
        self._previous_x0: torch.Tensor | None = None

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        """The visited timesteps (descending) and the sampler's ``a_t`` for each, plus a final 1."""
        total = self.config.num_train_timesteps
        if not 1 <= num_inference_steps <= total:
            raise ValueError(f"num_inference_steps must be in 1..{total}, got {num_inference_steps}")
        if num_inference_steps < total:
            ascending = np.linspace(total - 1, 0, num_inference_steps, endpoint=False).astype(int)[::-1]
        else:
            ascending = np.arange(total)
        alphas = _zero_snr_sqrt(self._alphas_cumprod64[ascending])
        self.num_inference_steps = num_inference_steps
        self.timesteps = torch.from_numpy(ascending[::-1].copy()).to(device)
        self.sampling_alphas = torch.cat([alphas.flip(0), alphas.new_ones([1])]).to(device)
        self._step_index = None
        self._previous_x0 = None

    @property
    def step_index(self) -> int | None:
        """The index of the next step within ``timesteps`` (None before the first)."""
        return self._step_index

    def scale_model_input(
        self, sample: torch.Tensor, timestep: int | torch.Tensor | None = None
    ) -> torch.Tensor:
        """The model sees x unscaled (the official ``c_in`` is 1)."""
        return sample

    def denoiser_alpha(self, alpha: torch.Tensor) -> torch.Tensor:
        """The table entry nearest to ``alpha``: what the official denoiser uses for c_skip and c_out."""
        table = self.alphas_cumprod_sqrt.to(alpha.device)
        return table[(alpha - table).abs().argmin()]

    def predict_x0(
        self, model_output: torch.Tensor, sample: torch.Tensor, alpha: torch.Tensor
    ) -> torch.Tensor:
        """x0 from a v-prediction of ``sample`` at the sampler's ``alpha`` (float32), as the official
        denoiser computes it: ``alpha`` snapped to the table, ``c_skip = a``, ``c_out = -sqrt(1 - a^2)``."""
        alpha = self.denoiser_alpha(alpha.to(sample.device))
        c_skip, c_out = alpha, -((1 - alpha**2) ** 0.5)
        return model_output.float() * c_out + sample.float() * c_skip

    def _sampling_alphas(self, device: torch.device) -> torch.Tensor:
        if self.sampling_alphas is None:
            raise RuntimeError("call set_timesteps before sampling")
        return self.sampling_alphas.to(device)

    def _index_of(self, timestep: int | torch.Tensor) -> int:
        matches = (self.timesteps.cpu() == int(timestep)).nonzero()
        if len(matches) == 0:
            raise ValueError(
                f"timestep {int(timestep)} is not in this schedule ({self.num_inference_steps} steps)"
            )
        return int(matches[0])

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int | torch.Tensor,
        sample: torch.Tensor,
        *,
        generator: torch.Generator | list[torch.Generator] | None = None,
        variance_noise: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> InsViEDPMSchedulerOutput | tuple[torch.Tensor, torch.Tensor]:
        """One sampler step from ``sample`` (x at ``timestep``) given the model's guided v-prediction.

        ``variance_noise`` is the noise the step adds (for tests and inversion); without it the step
        draws from ``generator`` in the official order (one draw at the first step, two at every middle
        step with the first discarded, none at the last).
        """
        if self._step_index is None:
            self._step_index = self._index_of(timestep)
        i = self._step_index
        alphas = self._sampling_alphas(sample.device)
        x = sample.float()
        x0 = self.predict_x0(model_output, x, alphas[i])
        previous_x0, self._previous_x0 = self._previous_x0, x0
        self._step_index = i + 1
        if i == len(alphas) - 2:  # the last step returns the x0 prediction itself
            return InsViEDPMSchedulerOutput(x0, x0) if return_dict else (x0, x0)

        alpha, alpha_next = alphas[i], alphas[i + 1]
        lamb = ((alpha**2 / (1 - alpha**2)) ** 0.5).log()
        lamb_next = ((alpha_next**2 / (1 - alpha_next**2)) ** 0.5).log()
        h = lamb_next - lamb
        mult1 = ((1 - alpha_next**2) / (1 - alpha**2)) ** 0.5 * (-h).exp()
        mult2 = (-2 * h).expm1() * alpha_next
        mult_noise = (1 - alpha_next**2) ** 0.5 * (1 - (-2 * h).exp()) ** 0.5

        def noise() -> torch.Tensor:
            return randn_tensor(x.shape, generator=generator, device=x.device, dtype=torch.float32)

        if previous_x0 is None:
            eps = noise() if variance_noise is None else variance_noise.to(x.device, torch.float32)
            prev = mult1 * x - mult2 * x0 + mult_noise * eps
        else:
            alpha_prev = alphas[i - 1]
            lamb_prev = ((alpha_prev**2 / (1 - alpha_prev**2)) ** 0.5).log()
            r = (lamb - lamb_prev) / h
            corrected = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * previous_x0
            if variance_noise is None:
                noise()  # the official first-order update's draw, discarded
                eps = noise()
            else:
                eps = variance_noise.to(x.device, torch.float32)
            prev = mult1 * x - mult2 * corrected + mult_noise * eps
        return InsViEDPMSchedulerOutput(prev, x0) if return_dict else (prev, x0)

    def add_noise(
        self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        """Training noise: ``a * x0 + sqrt(1 - a^2) * noise`` with ``a`` from the 1000-entry table at
        ``timesteps`` (B,), as the official training's ``DiscreteSampling`` noises its targets."""
        alpha = self.alphas_cumprod_sqrt.to(original_samples.device)[
            timesteps.to(original_samples.device).long()
        ]
        return _noised(original_samples, noise, alpha)

    def add_noise_at_step(
        self, original_samples: torch.Tensor, noise: torch.Tensor, step_index: int
    ) -> torch.Tensor:
        """``original_samples`` noised to the level step ``step_index`` starts from (the sampler's own
        ``a_t``): the official ``sdedit`` prefix of a window whose first frames are known."""
        alpha = self._sampling_alphas(original_samples.device)[step_index].reshape(1)
        return _noised(original_samples, noise, alpha)

    def __len__(self) -> int:
        return self.config.num_train_timesteps


def _noised(samples: torch.Tensor, noise: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    alpha = alpha.float().reshape(-1, *([1] * (samples.ndim - 1)))
    noisy = alpha * samples.float() + (1 - alpha**2) ** 0.5 * noise.float()
    return noisy.to(samples.dtype)


def from_cogvideox_config(config: dict) -> InsViEDPMScheduler:
    """The official sampler over a CogVideoX scheduler config's noise schedule (its betas and SNR shift).

    CogVideoX's ``scaled_linear`` betas are the SAT ``linear`` ones (linear in sqrt(beta)); the zero
    terminal SNR is part of this sampler, whatever the config's ``rescale_betas_zero_snr`` says.
    """
    if config.get("beta_schedule", "scaled_linear") != "scaled_linear":
        raise ValueError(f"the official sampler needs scaled_linear betas, not {config['beta_schedule']!r}")
    if config.get("prediction_type", "v_prediction") != "v_prediction":
        raise ValueError(
            f"the official sampler needs a v-prediction model, not {config['prediction_type']!r}"
        )
    keys = ("num_train_timesteps", "beta_start", "beta_end", "snr_shift_scale")
    return InsViEDPMScheduler(**{key: config[key] for key in keys if key in config})
