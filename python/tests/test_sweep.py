"""examples/python/sweep.py against a real seam serve it starts: a small sweep (2 cuts x f32, q8)
gives one row per point plus the all-local one, f32 splits give the local text, q8 sends fewer
bytes than f32 at the same cut, and the README block is rewritten from the DataFrame."""
import importlib.util
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.abspath(os.environ.get("SEAM_MODEL", os.path.join(ROOT, "models/gemma-3-270m-q4_k_m.gguf")))
SEAM = os.path.abspath(os.environ.get("SEAM_BIN", os.path.join(ROOT, "build/seam")))


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("sweep", os.path.join(ROOT, "examples/python/sweep.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sweep(sweep, tmp_path):
    os.environ["SEAM_BACKEND"] = "cpu"
    srv = sweep.Server(SEAM, MODEL, 1)
    try:
        df = sweep.sweep(MODEL, srv.endpoint, cuts=[4, 12], wires=["f32", "q8"], tokens=6)
    finally:
        srv.close()
    assert len(df) == 5 and set(df["cut"]) == {4, 12, 18}
    f32 = df[df["wire"] == "f32"].set_index("cut")
    q8 = df[df["wire"] == "q8"].set_index("cut")
    assert f32["same_as_local"].all()
    assert (q8["bytes_per_token"] < f32["bytes_per_token"]).all()
    assert (f32["bytes_per_token"] > 2 * 640 * 4).all()  # the hidden state both ways, f32
    assert (df["decode_ms"] > 0).all() and (df[df["cut"] < 18]["network_ms"] > 0).all()
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{sweep.BEGIN}\nold\n{sweep.END}\ntail\n")
    sweep.write_readme(str(readme), df, "python sweep.py --cuts 4,12")
    text = readme.read_text()
    rows = [l.split("|")[1].strip() for l in text.splitlines() if l.startswith("|")]
    assert "\nold\n" not in text and text.endswith("tail\n")
    assert rows[2:] == ["18", "4", "4", "12", "12"]  # header, rule, the all-local row, the points
