"""The Python package against the seam command line: the same text from Model.generate as from
`seam run --temp 0`, from a Split as from the CLI's split (through a real `seam serve`), a hidden
state read at a cut and written back unchanged gives the same text and a zeroed one changes it;
seam.profile/seam.plan measure and plan against that server, and the plan runs (as a Plan and
as a plan file) to the local text; the ctypes structures have the C compiler's sizes. Run by tests/python.sh (make test), which
installs the package into a fresh venv; SEAM_MODEL, SEAM_BIN and SEAM_LIBRARY_PATH say where
things are."""
import ctypes
import os
import random
import subprocess
import tempfile
import time

import numpy as np
import pytest

import seam
from seam import _lib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.abspath(os.environ.get("SEAM_MODEL", os.path.join(ROOT, "models/gemma-3-270m-q4_k_m.gguf")))
SEAM = os.path.abspath(os.environ.get("SEAM_BIN", os.path.join(ROOT, "build/seam")))
PROMPT = "The capital of France is"
ENV = dict(os.environ, SEAM_BACKEND="cpu")


def cli(*args):
    out = subprocess.run([SEAM, "run", "-m", MODEL, "-t", "2", "--temp", "0", *args], env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def model():
    m = seam.Model(MODEL, threads=2, backend="cpu")
    yield m
    m.close()


@pytest.fixture(scope="module")
def server():
    port = random.randint(20000, 29000)
    log = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen([SEAM, "serve", "-m", MODEL, "--layers", "4-16", "--listen",
                          f"tcp://127.0.0.1:{port}", "-t", "1"], env=ENV, stderr=log)
    for _ in range(200):
        log.seek(0)
        if "listening" in log.read():
            break
        time.sleep(0.05)
    yield f"tcp://127.0.0.1:{port}"
    p.terminate()
    p.wait(timeout=30)


def test_struct_sizes(tmp_path):
    names = ["seam_model_params_t", "seam_sampler_params_t", "seam_stage_stats_t",
             "seam_recovery_t", "seam_split_stats_t", "seam_step_info_t",
             "seam_generate_event_t", "seam_generate_params_t", "seam_generate_result_t",
             "seam_split_params_t", "seam_model_info_t", "seam_link_profile_t",
             "seam_profile_t", "seam_plan_constraints_t", "seam_plan_cost_t", "seam_plan_t",
             "seam_planner_params_t", "seam_plan_server_t", "seam_plan_result_t"]
    src = tmp_path / "sizes.c"
    src.write_text('#include <stdio.h>\n#include "seam_plan.h"\nint main(void) {\n' +
                   "".join(f'    printf("%zu\\n", sizeof({n}));\n' for n in names) + "}\n")
    exe = tmp_path / "sizes"
    subprocess.run(["cc", "-std=c11", "-I", os.path.join(ROOT, "runtime"), str(src), "-o", str(exe)],
                   check=True)
    sizes = [int(x) for x in subprocess.run([str(exe)], capture_output=True, text=True).stdout.split()]
    mine = [ctypes.sizeof(c) for c in (_lib.ModelParams, _lib.SamplerParams, _lib.StageStats,
                                      _lib.Recovery, _lib.SplitStats, _lib.StepInfo,
                                      _lib.GenerateEvent, _lib.GenerateParams,
                                      _lib.GenerateResult, _lib.SplitParams, _lib.ModelInfo,
                                      _lib.LinkProfile, _lib.Profile, _lib.PlanConstraints,
                                      _lib.PlanCost, _lib.Plan, _lib.PlannerParams,
                                      _lib.PlanServer, _lib.PlanResult)]
    assert mine == sizes, dict(zip(names, zip(mine, sizes)))


def test_generate_equals_cli(model):
    text = model.generate(PROMPT, max_tokens=8, temperature=0.0)
    assert PROMPT + text + "\n" == cli("-p", PROMPT, "-n", "8")
    assert model.info["n_layer"] == 18 and model.info["backend"] == "cpu"


def test_layer_range():
    m = seam.Model(MODEL, layers=(4, 16), threads=1, backend="cpu")
    assert m.info["n_layer"] == 18
    m.close()


def test_stream(model):
    steps = list(model.stream(PROMPT, max_tokens=8, temperature=0.0))
    assert len(steps) == 8
    assert "".join(s["text"] for s in steps) == model.generate(PROMPT, max_tokens=8, temperature=0.0)
    assert all(s["step_ms"] > 0 for s in steps)


def test_stream_stops_early(model):
    got = []
    for s in model.stream(PROMPT, max_tokens=64, temperature=0.0):
        got.append(s)
        if len(got) == 3:
            break
    assert len(got) == 3


def test_split_equals_cli(server):
    spec = f"0-4@local,4-16@{server},16-18@local"
    sp = seam.Split(MODEL, spec, threads=2, backend="cpu")
    text = sp.generate(PROMPT, max_tokens=8, temperature=0.0)
    sp.close()
    assert PROMPT + text + "\n" == cli("-p", PROMPT, "-n", "8", "--split", spec)
    sp = seam.Split(MODEL, spec, threads=2, backend="cpu")
    steps = list(sp.stream(PROMPT, max_tokens=4, temperature=0.0))
    sp.close()
    assert steps[-1]["hops"][0]["layers"] == (4, 16) and steps[-1]["hops"][0]["sent_bytes"] > 0


def test_hidden_state_at_the_cut(server):
    spec = f"0-4@local,4-16@{server},16-18@local"
    want = seam.Model(MODEL, threads=2, backend="cpu").generate(PROMPT, max_tokens=8, temperature=0.0)
    seen = []

    def same(layer, h):
        seen.append((layer, h.shape))
        h[:] = np.array(h)  # read it and write it back unchanged

    sp = seam.Split(MODEL, spec, threads=2, backend="cpu")
    sp.on_hidden = same
    assert sp.generate(PROMPT, max_tokens=8, temperature=0.0) == want
    sp.close()
    assert {layer for layer, _ in seen} == {4, 16}
    assert seen[0][1] == (len(seam.Model(MODEL, threads=1, backend="cpu").tokenize(PROMPT)), 640)

    def zero(layer, h):
        if layer == 4:
            h[:] = 0

    sp = seam.Split(MODEL, spec, threads=2, backend="cpu")
    sp.on_hidden = zero
    assert sp.generate(PROMPT, max_tokens=8, temperature=0.0) != want
    sp.close()


def test_errors():
    with pytest.raises(seam.SeamError, match="no-such-file"):
        seam.Model("/nonexistent/no-such-file.gguf")
    with pytest.raises(seam.SeamError):
        seam.Split(MODEL, "0-4@local,5-18@local")
    with pytest.raises(ValueError):
        seam.Split(MODEL, "0-18@local", wire="f64")
    assert seam.version() == "0.2.0"


@pytest.fixture(scope="module")
def here():
    return seam.profile(MODEL, threads=2)


def test_profile(here, tmp_path):
    assert here.n_layer == 18 and here.backend == "cpu"
    assert (here.decode_us(512) > 0).all() and (here.weight_bytes > 0).all()
    assert (here.decode_us(4096) >= here.decode_us(16)).all()
    here.save(str(tmp_path / "p.json"))
    again = seam.Profile.load(str(tmp_path / "p.json"))
    assert np.allclose(again.decode_us(512), here.decode_us(512), rtol=1e-6)


def test_plan_runs(server, model, here, tmp_path):
    pl = seam.plan(MODEL, server, wire="f32", client_profile=here)
    assert pl.servers[0]["layers"] == (4, 16) and pl.servers[0]["rtt_ms"] > 0
    assert pl.predicted["feasible"] and pl.predicted["decode_ms"] <= pl.all_local["decode_ms"] + 1e-9
    want = model.generate(PROMPT, max_tokens=8, temperature=0.0)
    assert seam.Split(MODEL, pl, threads=2, backend="cpu").generate(PROMPT, max_tokens=8, temperature=0.0) == want
    # a 20x slower client sends the layers the server holds there
    slow = seam.plan(MODEL, [server], wire="f32", client_profile=here, client_slowdown=20)
    assert "@tcp://" in slow.spec, slow
    slow.write(str(tmp_path / "plan.json"))
    back = seam.Plan.read(str(tmp_path / "plan.json"))
    assert back.spec == slow.spec and back.head_remote == slow.head_remote
    sp = seam.Split(MODEL, str(tmp_path / "plan.json"), threads=2, backend="cpu")
    assert sp.generate(PROMPT, max_tokens=8, temperature=0.0) == want
    sp.close()
    with pytest.raises(ValueError):
        seam.plan(MODEL, server, objective="fastest")
    with pytest.raises(seam.SeamError, match="nothing listens"):
        seam.plan(MODEL, "tcp://127.0.0.1:9", client_profile=here)
