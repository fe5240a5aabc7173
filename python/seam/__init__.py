"""seam: split-model inference from Python, over libseam.so.

    m = seam.Model("model.gguf")
    m.generate("The capital of France is", max_tokens=8, temperature=0.0)   # -> the text
    for step in m.stream("Once upon a time", max_tokens=8): ...            # per-step dicts
    sp = seam.Split("model.gguf", "0-4@local,4-16@tcp://127.0.0.1:7001,16-18@local")
    sp.on_hidden = fn   # fn(layer, h): h a numpy (tokens, d_model) float32 view at each cut
    pl = seam.plan("model.gguf", ["tcp://127.0.0.1:7001"])  # the best split, measured now
    seam.Split("model.gguf", pl).generate(...)               # or pl.write("plan.json")
    seam.profile("model.gguf").decode_us(context=512)        # per-layer times, numpy

Threads: a Model may be used from several threads (each generation has its own session); a
Split is used by one thread at a time.
"""
import ctypes
import os
import queue
import tempfile
import threading

import numpy as np

from . import _lib

__all__ = ["Model", "Split", "Plan", "Profile", "plan", "profile", "SeamError", "version"]

_c = _lib.load()

BACKENDS = {"auto": 0, "cpu": 1, "cuda": 2}


class SeamError(RuntimeError):
    """A libseam call failed; the message is libseam's reason."""


def _error(what):
    return SeamError(f"{what}: {_c.seam_last_error().decode(errors='replace')}")


def version():
    return _c.seam_version().decode()


def _sampling(temperature, **given):
    """libseam's default sampler parameters with temperature and whatever else was given."""
    s = _c.seam_sampler_default_params()
    s.temperature = temperature
    fields = {f[0] for f in _lib.SamplerParams._fields_}
    for name, value in given.items():
        if name not in fields:
            raise TypeError(f"unknown sampling parameter {name!r}; one of {sorted(fields)}")
        if value is not None:
            setattr(s, name, value)
    return s


def _record(ev):
    """One generation event as a dict: token, text, position, timings, bytes per hop."""
    e = ev.contents
    rec = {"token": e.token, "text": ctypes.string_at(e.piece, e.piece_len).decode(errors="replace"),
           "pos": e.pos, "step_ms": e.step_ms}
    if e.info and e.info.contents.has_split:
        st = e.info.contents.split
        rec["local_ms"] = st.local_us / 1e3
        rec["hops"] = [{"where": h.where.decode(), "layers": (h.layer_begin, h.layer_end),
                        "dtype": _c.seam_dtype_name(h.dtype).decode(),
                        "network_ms": h.network_us / 1e3, "remote_ms": h.compute_us / 1e3,
                        "sent_bytes": h.sent_bytes, "recv_bytes": h.recv_bytes}
                       for h in st.stage[:st.n_stages] if h.sent_bytes]
        rec["recoveries"] = [{"from": r.from_.decode(), "to": r.to.decode(),
                              "why": r.why.decode(), "pause_ms": r.pause_ms}
                             for r in st.recovery[:st.n_recoveries]]
    return rec


class _Generating:
    """What generate and stream share: a stepper made per call and the C generator."""

    def _stepper(self):  # -> (stepper handle, cleanup)
        raise NotImplementedError

    def _run(self, prompt, on_token, stop, max_tokens, temperature, **sampling):
        st, cleanup = self._stepper()
        p = _c.seam_generate_default_params()
        p.sampling = _sampling(temperature, **sampling)
        p.n_predict = max_tokens
        p.stop = ctypes.cast(ctypes.pointer(stop), ctypes.POINTER(ctypes.c_int))
        cb = _lib.ON_TOKEN(lambda ctx, ev: on_token(_record(ev))) if on_token else _lib.ON_TOKEN()
        p.on_token = cb
        r = _lib.GenerateResult()
        try:
            rc = _c.seam_generate(st, prompt.encode(), ctypes.byref(p), ctypes.byref(r))
            text = ctypes.string_at(r.text, r.text_len).decode(errors="replace") if r.text else ""
            _c.seam_generate_result_free(ctypes.byref(r))
            if rc != 0:
                raise _error("generate")
            return text
        finally:
            h = ctypes.c_void_p(st)
            _c.seam_stepper_destroy(ctypes.byref(h))
            cleanup()

    def generate(self, prompt, max_tokens=128, temperature=0.8, top_k=None, top_p=None,
                 min_p=None, repeat_penalty=None, repeat_last_n=None, seed=None):
        """The text generated after prompt (the prompt itself not included)."""
        return self._run(prompt, None, ctypes.c_int(0), max_tokens, temperature, top_k=top_k,
                         top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                         repeat_last_n=repeat_last_n, seed=seed)

    def stream(self, prompt, max_tokens=128, temperature=0.8, **sampling):
        """Yields one dict per generated token as it comes (token, text, pos, step_ms; with a
        split: local_ms, hops with bytes and times, recoveries). Closing the iterator stops
        the generation after the step in progress."""
        q = queue.Queue()
        stop = ctypes.c_int(0)
        failure = []

        def work():
            try:
                self._run(prompt, q.put, stop, max_tokens, temperature, **sampling)
            except Exception as e:  # handed to the caller's thread
                failure.append(e)
            finally:
                q.put(None)

        t = threading.Thread(target=work, daemon=True)
        t.start()
        try:
            while (rec := q.get()) is not None:
                yield rec
        finally:
            stop.value = 1
            t.join()
        if failure:
            raise failure[0]


class Model(_Generating):
    """A GGUF model mapped once. layers=(a, b) materialises only those (no embedding or head
    unless the range starts at 0 / ends at the last layer)."""

    def __init__(self, path, layers=None, threads=None, backend="auto"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {sorted(BACKENDS)}, not {backend!r}")
        p = _c.seam_model_default_params()
        if threads:
            p.n_threads = threads
        p.backend = BACKENDS[backend]
        self.path = path
        self._m = None
        if layers is not None:
            a, b = layers
            p.layer_begin, p.layer_end = a, b
            p.embed, p.head = a == 0, b == self._n_layer(path)
        self._m = _c.seam_model_new(path.encode(), ctypes.byref(p))
        if not self._m:
            raise _error(f"loading {path}")

    @staticmethod
    def _n_layer(path):
        """The model's layer count, from an instance that materialises nothing."""
        p = _c.seam_model_default_params()
        p.layer_begin = p.layer_end = 0
        p.embed = p.head = False
        m = _c.seam_model_new(path.encode(), ctypes.byref(p))
        if not m:
            raise _error(f"loading {path}")
        i = _lib.ModelInfo()
        _c.seam_model_info(m, ctypes.byref(i))
        h = ctypes.c_void_p(m)
        _c.seam_model_destroy(ctypes.byref(h))
        return i.n_layer

    @property
    def info(self):
        i = _lib.ModelInfo()
        _c.seam_model_info(self._m, ctypes.byref(i))
        return {"arch": i.arch_name.decode() if i.arch_name else "", "name": i.name.decode(),
                "n_layer": i.n_layer, "d_model": i.d_model, "n_head": i.n_head,
                "n_head_kv": i.n_head_kv, "d_ff": i.d_ff, "n_vocab": i.n_vocab,
                "n_ctx_train": i.n_ctx_train, "backend": _c.seam_model_backend(self._m).decode()}

    def tokenize(self, text, add_special=True):
        buf = (ctypes.c_int32 * (len(text) + 16))()
        b = text.encode()
        n = _c.seam_tokenize(self._m, b, len(b), buf, len(buf), add_special, False)
        if n < 0:
            raise _error("tokenize")
        return list(buf[:n])

    def _stepper(self):
        s = _c.seam_session_new(self._m, None)
        if not s:
            raise _error("session")
        st = _c.seam_stepper_local(self._m, s)

        def cleanup():
            h = ctypes.c_void_p(s)
            _c.seam_session_destroy(ctypes.byref(h))
        if not st:
            cleanup()
            raise _error("stepper")
        return st, cleanup

    def close(self):
        if self._m:
            h = ctypes.c_void_p(self._m)
            _c.seam_model_destroy(ctypes.byref(h))
            self._m = None

    def __del__(self):
        self.close()


class Split(_Generating):
    """A split of the model at path. plan: a split spec as seam run --split takes it
    ("0-4@local,4-16@EP,16-18@local", replicas as EP1|EP2, /q8 etc. per stage), a Plan from
    seam.plan, or the path of a plan file (seam plan -o). wire: the default dtype ("f32",
    "f16", "bf16", "q8"). head_remote: None takes the plan's. on_hidden: None, or fn(layer, h)
    called at each cut with the hidden state entering that layer as a (tokens, d_model)
    float32 numpy view, to read or change in place before the next stage runs."""

    def __init__(self, path, plan, wire="f32", head_remote=None, threads=None, backend="auto",
                 timeout_ms=0, fail_after_ms=0, server_key=None):
        dt = _c.seam_dtype_parse(wire.encode())
        if dt < 0:
            raise ValueError(f"wire must be f32, f16, bf16 or q8, not {wire!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {sorted(BACKENDS)}, not {backend!r}")
        if isinstance(plan, str) and "@" not in plan and os.path.isfile(plan):
            plan = Plan.read(plan)
        if isinstance(plan, Plan):
            spec = plan.spec
            head_remote = plan.head_remote if head_remote is None else head_remote
            server_key = server_key or plan.server_key
        else:
            spec = plan
        self.path, self.spec, self.on_hidden = path, spec, None
        self._keep = [path.encode(), spec.encode(), (server_key or "").encode()]
        self._hook = _lib.ON_HIDDEN(self._hidden)
        p = _lib.SplitParams(model_path=self._keep[0], spec=self._keep[1], wire_dtype=dt,
                             head_remote=bool(head_remote), n_threads=threads or 0,
                             backend=BACKENDS[backend], timeout_ms=timeout_ms,
                             fail_after_ms=fail_after_ms, on_hidden=self._hook)
        if server_key:
            p.server_keys[0] = self._keep[2]
            p.n_server_keys = 1
        self._s = _c.seam_split_new(ctypes.byref(p))
        if not self._s:
            raise _error(f"split {spec}")

    def _hidden(self, ctx, layer, h, n, d):
        if self.on_hidden is not None:
            self.on_hidden(layer, np.ctypeslib.as_array(h, shape=(n, d)))

    @property
    def layout(self):
        """The split as it runs now (replicas in use; local after a fallback)."""
        return _c.seam_split_layout(self._s).decode()

    def _stepper(self):
        st = _c.seam_stepper_split(self._s)
        if not st:
            raise _error("stepper")
        return st, lambda: None

    def close(self):
        if getattr(self, "_s", None):
            h = ctypes.c_void_p(self._s)
            _c.seam_split_destroy(ctypes.byref(h))
            self._s = None

    def __del__(self):
        self.close()


# ---- the partitioner ---------------------------------------------------------------------------

def _cost(c):
    """A predicted cost as a dict of milliseconds (and the client's memory in bytes)."""
    return {"decode_ms": c.decode_us / 1e3, "ttft_ms": c.ttft_us / 1e3,
            "client_ms": c.client_compute_us / 1e3, "server_ms": c.server_compute_us / 1e3,
            "link_ms": c.link_us / 1e3, "client_bytes": c.client_bytes, "feasible": c.feasible,
            "why": c.why.decode() if c.why else None}


class Profile:
    """What each layer of a model costs on one machine: decode of one token through layer l at
    context T is decode_a[l] + decode_b[l]·T microseconds; prefill per token; weight bytes.
    Made by seam.profile (measured now) or Profile.load (seam profile's JSON)."""

    def __init__(self, raw):
        self._p = raw

    @classmethod
    def load(cls, path):
        raw = _lib.Profile()
        if _c.seam_profile_load(path.encode(), ctypes.byref(raw), None) != 0:
            raise _error(f"profile {path}")
        return cls(raw)

    def save(self, path):
        if _c.seam_profile_save(path.encode(), ctypes.byref(self._p), None) != 0:
            raise _error(f"profile {path}")

    def _layers(self, field):
        return np.array(getattr(self._p, field)[:self._p.n_layer])

    @property
    def n_layer(self):
        return self._p.n_layer

    @property
    def backend(self):
        return self._p.backend.decode()

    @property
    def decode_a(self):
        return self._layers("dec_a")

    @property
    def decode_b(self):
        return self._layers("dec_b")

    def decode_us(self, context=512):
        """Each layer's decode time for one token at this context length (microseconds)."""
        return self.decode_a + self.decode_b * context

    @property
    def prefill_us_per_token(self):
        return self._layers("prefill_us_per_token")

    @property
    def weight_bytes(self):
        return self._layers("weight_bytes")

    @property
    def head_us(self):
        return self._p.head_us

    @property
    def embed_us(self):
        return self._p.embed_us

    @property
    def kv_bytes_per_token(self):
        return self._p.kv_bytes_per_token


def profile(path, threads=None):
    """Times every layer of the model at path on this machine (seconds), with its memory."""
    raw = _lib.Profile()
    if _c.seam_profile_measure(path.encode(), threads or 0, 0, -1, ctypes.byref(raw)) != 0:
        raise _error(f"profile {path}")
    return Profile(raw)


class Plan:
    """A split plan: spec (for seam.Split or seam run --split), head_remote, wire; from seam.plan
    also what it is predicted to cost (predicted, all_local, alone: dicts of ms) and what was
    measured of each server (servers: dicts)."""

    def __init__(self, spec, head_remote=False, wire="f32", server_key=None, predicted=None,
                 all_local=None, alone=None, servers=None, objective="decode"):
        self.spec, self.head_remote, self.wire, self.server_key = spec, head_remote, wire, server_key
        self.predicted, self.all_local = predicted, all_local
        self.alone, self.servers, self.objective = alone or [], servers or [], objective

    def __repr__(self):
        ms = f", predicted {self.predicted['decode_ms']:.2f} ms/token" if self.predicted else ""
        return f"Plan({self.spec!r}{', head on the server' if self.head_remote else ''}{ms})"

    @classmethod
    def read(cls, path):
        """A plan file (seam plan -o, Plan.write)."""
        spec = ctypes.create_string_buffer(_lib.PLAN_SPEC_MAX)
        key = ctypes.create_string_buffer(4096)
        head = ctypes.c_bool()
        if _c.seam_plan_read(path.encode(), spec, len(spec), ctypes.byref(head), key, len(key)) != 0:
            raise _error(f"plan {path}")
        return cls(spec.value.decode(), head.value, server_key=key.value.decode() or None)

    def write(self, path):
        """As a plan file that seam run --plan and Plan.read take."""
        cost = None
        if self.predicted:
            cost = _lib.PlanCost(decode_us=self.predicted["decode_ms"] * 1e3,
                                 ttft_us=self.predicted["ttft_ms"] * 1e3,
                                 client_bytes=self.predicted["client_bytes"])
        dt = _c.seam_dtype_parse(self.wire.encode())
        rc = _c.seam_plan_write_spec(path.encode(), self.spec.encode(), self.head_remote, max(dt, 0),
                                     self.server_key.encode() if self.server_key else None,
                                     ctypes.byref(cost) if cost else None, self.objective.encode())
        if rc != 0:
            raise _error(f"plan {path}")


def plan(path, servers, objective="decode", context=512, prompt=128, wire=None, keep_local=None,
         client_mem=None, client_profile=None, client_slowdown=None, server_key=None,
         threads=None, lossy_gain=None):
    """The best split of the model at path over the servers (an endpoint, or a list in chain
    order), measured now: this machine's layers (or client_profile: a Profile or seam profile's
    file), each server's own timings and layers, every link. objective: decode, ttft, mix or
    server; wire: the dtypes allowed (e.g. ["f32", "q8"]; default all); keep_local: (first,
    last) layers that stay here; client_mem: bytes this machine may use; client_slowdown: plan
    for a machine this many times slower. Returns a Plan."""
    servers = [servers] if isinstance(servers, str) else list(servers)
    if not 1 <= len(servers) <= _lib.PLAN_MAX_SERVERS:
        raise ValueError(f"1 to {_lib.PLAN_MAX_SERVERS} servers, not {len(servers)}")
    obj = _c.seam_objective_parse(objective.encode())
    if obj < 0:
        raise ValueError(f"objective must be decode, ttft, mix or server, not {objective!r}")
    p = _c.seam_planner_default_params()
    keep = [path.encode()] + [s.encode() for s in servers]
    p.model_path = keep[0]
    for i, s in enumerate(keep[1:]):
        p.servers[i] = s
    p.n_servers = len(servers)
    p.n_threads = threads or 0
    c = p.constraints
    c.objective, c.context, c.prompt = obj, context, prompt
    if wire is not None:
        c.dtypes = 0
        for w in [wire] if isinstance(wire, str) else wire:
            dt = _c.seam_dtype_parse(w.encode())
            if dt < 0:
                raise ValueError(f"wire dtypes are f32, f16, bf16 and q8, not {w!r}")
            c.dtypes |= 1 << dt
    if keep_local is not None:
        c.keep_first, c.keep_last = keep_local
    if client_mem is not None:
        c.client_mem = client_mem
    if lossy_gain is not None:
        c.lossy_gain = lossy_gain
    if client_slowdown is not None:
        p.client_slowdown = client_slowdown
    if server_key is not None:
        keep.append(server_key.encode())
        p.server_key = keep[-1]
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(client_profile, Profile):
            saved = os.path.join(tmp, "profile.json")
            client_profile.save(saved)
            client_profile = saved
        if client_profile is not None:
            keep.append(client_profile.encode())
            p.client_profile = keep[-1]
        r = _lib.PlanResult()
        if _c.seam_plan_make(ctypes.byref(p), ctypes.byref(r)) != 0:
            raise _error("plan")
    where = [{"endpoint": servers[i], "layers": (v.begin, v.end), "has_head": v.has_head,
              "rtt_ms": v.link.rtt_us / 1e3, "mb_per_s": v.link.bytes_per_us, "busy": v.busy,
              "standby_for": servers[v.standby_for] if v.standby_for >= 0 else None}
             for i, v in enumerate(r.server[:r.n_servers])]
    alone = [{"server": servers[i], "spec": r.alone_spec[i].value.decode(), **_cost(r.alone[i])}
             for i in range(r.n_servers) if r.alone_spec[i].value]
    return Plan(r.spec.decode(), r.head_remote, _c.seam_dtype_name(r.dtype).decode(), server_key,
                _cost(r.cost), _cost(r.all_local), alone, where, objective)
