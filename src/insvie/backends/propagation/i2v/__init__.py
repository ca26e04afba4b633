"""Image-to-video propagation: invert the source video, regenerate it from the edited first frame.

load_model(backend, settings) -> model                       # "svd" or "wan", loaded once per process
I2VPropagator(model, settings)(source, edited_first) -> (video, per-frame diagnostics)
I2VPropagator.propagate_batch([(source, edited_first, seed), ...]) -> [(video, diagnostics), ...]
load_propagator(backend, settings) -> I2VPropagator            # one per process and settings
check_pair(source, edited_first)                             # what propagate_batch refuses, item by item
"""

from insvie.backends.propagation.i2v.clips import check_pair
from insvie.backends.propagation.i2v.models import load_model, load_propagator
from insvie.backends.propagation.i2v.propagator import I2VPropagator, window_drift
from insvie.backends.propagation.i2v.settings import I2VSettings

__all__ = ["I2VPropagator", "I2VSettings", "check_pair", "load_model", "load_propagator", "window_drift"]
