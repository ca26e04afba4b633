"""Multi-node Ray for real: a head and a second node started apart with ``ray start`` on this machine,
and an ``insvie build`` through the real CLI whose model steps are pinned to the second node.

The nodes are told apart from the workers' side. Ray workers inherit the environment of the raylet
that spawned them, not the driver's, so each node is started with its own value of the judge's API-key
variable and the fake OpenAI endpoint records the key of every request: a judge request carrying the
model node's key was sent by a worker on that node. The build's decisions and triplets must equal a
local build of the same inputs, because where a step runs must never change what it decides.

The fixture stops exactly the processes of its own two nodes (``ray_nodes.RayNodes``), never ``ray stop``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.judge import scored_by_image
from fakes.openai_server import FakeOpenAIServer
from ray_nodes import RAY_ENV, RayNodes, StartFailed, free_port

from insvie.store import Dataset

KEY_ENV = "INSVIE_TEST_NODE_KEY"  # the judge's api_key_env: each node's workers see their node's value
# Ray's switch for one-machine clusters: "0" keeps a process on 127.0.0.1 (the ray executor sets it in a
# driver joining a loopback address), but makes `ray start --address` refuse to add a node: nodes get "1".
# With "1", Ray swaps 127.0.0.1 (in --node-ip-address and in --address) for the machine's address, and
# leaves other loopback addresses alone: so the nodes are 127.0.0.2 (head) and 127.0.0.3 (model node).
ONE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
HEAD_IP, MODEL_IP = "127.0.0.2", "127.0.0.3"
PINNED = ("image_edit", "image_judge", "video_judge")


def _start_two_nodes(nodes: RayNodes) -> str:
    """Start the head and the model node; return the address a driver joins."""
    port = free_port()
    shared = [
        "--num-cpus=1",
        "--num-gpus=0",
        "--object-store-memory=100000000",
        "--min-worker-port=0",
        "--max-worker-port=0",
        "--disable-usage-stats",
    ]
    nodes.start(
        [
            "--head",
            f"--node-ip-address={HEAD_IP}",
            f"--port={port}",
            f"--temp-dir={nodes.root / 'head'}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            *shared,
        ],
        env={ONE_MACHINE: "1", KEY_ENV: "head-node"},
    )
    nodes.start(
        [
            f"--address={HEAD_IP}:{port}",
            f"--node-ip-address={MODEL_IP}",
            f"--temp-dir={nodes.root / 'model'}",
            f"--dashboard-agent-listen-port={free_port()}",
            "--resources=" + json.dumps({"model_node": 2}),
            *shared,
        ],
        env={ONE_MACHINE: "1", KEY_ENV: "model-node"},
    )
    return f"{HEAD_IP}:{port}"


@pytest.fixture
def two_nodes() -> Iterator[str]:
    """A head (1 CPU) and a model node (1 CPU and ``model_node: 2``) on loopback addresses, each with
    its own temp dir (a short one: Ray's unix sockets live under it, and their paths are limited to 107
    bytes) and its own ports: the head's dashboard, client-server and agent ports are fixed by default,
    and would collide with another cluster on the machine; worker ports are the OS's pick.

    A port found free can be taken before Ray binds it (the machine is shared), so a failed start is
    stopped and tried once more with fresh ports before the test errors."""
    pytest.importorskip("ray")
    pytest.importorskip("psutil")
    failures = []
    for _attempt in range(2):
        nodes = RayNodes()
        try:
            address = _start_two_nodes(nodes)
        except StartFailed as exc:
            failures.append(str(exc))
            nodes.stop()
            continue
        try:
            yield address
        finally:
            nodes.stop()
        return
    pytest.fail("could not start two Ray nodes:\n" + "\n".join(failures))


def _build(out: Path, media: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **RAY_ENV, KEY_ENV: "driver"}
    env.pop(ONE_MACHINE, None)  # the ray executor decides, as it does for a user
    return subprocess.run(
        [sys.executable, "-m", "insvie", "build", str(out), "-c", str(config), "-i", str(media), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _decisions(out: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    with Dataset.open(out, create=False) as ds:
        return {(r.stage, r.item_id): (r.status, r.reason) for r in ds.latest_results()}


def _triplets(out: Path) -> dict[str, dict]:
    with Dataset.open(out, create=False) as ds:
        return {item.id: item.meta for item in ds.iter_items("triplet")}


@pytest.mark.xdist_group("ray")
def test_pinned_steps_run_on_the_model_node_and_decide_as_a_local_build(
    two_nodes: str, tmp_path: Path, shared_media: Path
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(shared_media / "camping.png", media)  # the image branch: edit, judge, animate, refilter
    with FakeOpenAIServer(scored_by_image) as server:
        chat = {"model": "fake-vlm", "base_url": server.base_url, "api_key_env": KEY_ENV, "max_retries": 1}
        config = {
            "run": {"ray_resources": {step: {"model_node": 1} for step in PINNED}},
            "instruct": {"per_item": 1, "seed": 3, "operators": ["night", "sepia"]},
            "edit": {"strengths": [0.6, 1.0]},
            "judge": {"enabled": True, "chat": chat, "min_overall": 3, "video_positions": [1.0]},
            "animate": {"num_frames": 9, "max_side": 256},
        }
        config_path = tmp_path / "config.yaml"
        config_path.write_text(json.dumps(config))
        local = _build(tmp_path / "local", media, config_path)
        assert local.returncode == 0, local.stderr
        sent_locally = len(server.chat_requests)
        started = time.monotonic()
        on_ray = _build(tmp_path / "ray", media, config_path, "--executor", "ray", "--ray-address", two_nodes)
        assert on_ray.returncode == 0, on_ray.stderr
        print(f"ray build on two nodes: {time.monotonic() - started:.1f} s")
        from_ray = server.chat_requests[sent_locally:]
    assert sent_locally and {r.headers["authorization"] for r in server.chat_requests[:sent_locally]} == {
        "Bearer driver"
    }
    # Every judge request of the Ray build came from a worker of the model node, none from the head.
    assert from_ray and {r.headers["authorization"] for r in from_ray} == {"Bearer model-node"}
    decisions = _decisions(tmp_path / "ray")
    assert {stage for stage, _ in decisions} >= set(PINNED)
    assert decisions == _decisions(tmp_path / "local")
    triplets = _triplets(tmp_path / "ray")
    assert triplets and triplets == _triplets(tmp_path / "local")


# The rules around pins, without a cluster: they run in the fast suite.


def test_pins_naming_no_step_or_what_ray_refuses_fail_when_the_config_is_read() -> None:
    from insvie.errors import ConfigError
    from insvie.stages.config import parse_config

    pins = {
        "edt": {"model_node": 1},
        "clip_dedup": {"model_node": 1},
        "judge": {"GPU": 1},
        "edit": {"model_node": 1.5},
        "refilter": {"model_node": 0.01},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config({"run": {"ray_resources": pins}})
    message = str(caught.value)
    assert "run.ray_resources" in message and "unknown steps edt" in message
    assert "clip_dedup run in the driver" in message
    assert "judge.GPU: not a custom resource" in message and "edit.model_node" in message
    assert "refilter." not in message


def test_pins_change_no_config_hash_and_the_local_executor_ignores_them() -> None:
    from insvie.engine import LocalExecutor, make_executor
    from insvie.stages.config import parse_config
    from insvie.stages.pipeline import build_steps

    pins = {"edit": {"model_node": 1}, "refilter": {"model_node": 0.01}}
    plain, pinned = parse_config({}), parse_config({"run": {"ray_resources": pins}})
    assert [(s.name, s.stage.fingerprint()) for s in build_steps(plain)] == [
        (s.name, s.stage.fingerprint()) for s in build_steps(pinned)
    ]
    assert isinstance(make_executor("local", ray_resources=pinned.run.ray_resources), LocalExecutor)


class _FakeRay:
    """What the executor asks Ray about its nodes: a head with 4 CPUs, a model node with 1 CPU."""

    NODES = (
        {"Alive": True, "Resources": {"CPU": 4.0, "memory": 8 * 2.0**30}},
        {"Alive": True, "Resources": {"CPU": 1.0, "memory": 8 * 2.0**30, "model_node": 2.0}},
        {"Alive": False, "Resources": {"CPU": 8.0, "memory": 8 * 2.0**30, "model_node": 2.0}},
    )

    def nodes(self) -> list[dict]:
        return [dict(node) for node in self.NODES]

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 5.0, "memory": 16 * 2.0**30, "model_node": 2.0}


def _executor(workers: int = 0, pins: dict | None = None):
    from insvie.engine import RayExecutor

    executor = RayExecutor.__new__(RayExecutor)  # no cluster: only the sizing rules are under test
    executor._ray, executor.address, executor.workers = _FakeRay(), "fake:6379", workers
    executor.pins, executor._actors, executor._started = pins or {}, {}, False
    return executor


def test_workers_are_counted_node_by_node_and_pins_travel_as_custom_resources() -> None:
    from engine_toy import ReadBack, Square

    from insvie.errors import ConfigError

    pinned = _executor(pins={"readback": {"model_node": 0.5}})
    res = pinned.resources(ReadBack())
    assert res.custom == {"model_node": 0.5} and res.wants_actor
    assert pinned._options(res)["resources"] == {"model_node": 0.5}
    # the model node holds one such actor (one CPU), however many CPUs the head has
    assert pinned._parallelism(ReadBack(), res) == 1
    assert _executor(workers=3, pins=pinned.pins)._parallelism(ReadBack(), res) == 1
    unpinned = _executor()
    assert "resources" not in unpinned._options(unpinned.resources(Square()))
    assert unpinned._parallelism(Square(), unpinned.resources(Square())) == 5
    missing = _executor(pins={"readback": {"gpu_node": 1}})
    with pytest.raises(ConfigError, match="readback asks Ray for gpu_node, which no node"):
        missing._parallelism(ReadBack(), missing.resources(ReadBack()))
