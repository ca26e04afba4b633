"""A judge's reply that depends on the candidate image, so the judge's choice among candidates is a real
decision in tests (different candidates score differently, the same candidate always alike)."""

from __future__ import annotations

import hashlib


def scored_by_image(request: dict) -> dict:
    """The judge schema's fields, scored from a hash of the request's candidate image."""
    image_url = request["messages"][0]["content"][2]["image_url"]["url"]
    value = int(hashlib.sha256(image_url.encode()).hexdigest(), 16)
    overall = 2 + value % 4
    return {
        "instruction_following": 3 + value % 3,
        "preservation": 4,
        "realism": 4,
        "overall": overall,
        "rationale": f"scored {overall} for the test",
    }
