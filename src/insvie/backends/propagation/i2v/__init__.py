"""Image-to-video propagation: invert the source video, regenerate it from the edited first frame.

load_model(backend, settings) -> model                       # "svd" or "wan", loaded once per process
I2VPropagator(model, settings)(source, edited_first) -> (video, per-frame diagnostics)
"""

from insvie.backends.propagation.i2v.models import load_model
from insvie.backends.propagation.i2v.propagator import I2VPropagator, window_drift
from insvie.backends.propagation.i2v.settings import I2VSettings

__all__ = ["I2VPropagator", "I2VSettings", "load_model", "window_drift"]
