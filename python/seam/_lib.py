"""ctypes declarations of libseam's public API (runtime/seam.h, seam_split.h, seam_plan.h).

The structures mirror the C ones field for field; tests/test_seam.py checks their sizes
against the C compiler's. Nothing here is meant for scripts: use the classes in seam/__init__.py.
"""
import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_float,
                    c_int, c_int32, c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

MAX_STAGES = 16
PROFILE_MAX_LAYERS = 512
PLAN_MAX_SERVERS = 8
PLAN_SPEC_MAX = 1024


class ModelParams(Structure):
    _fields_ = [("layer_begin", c_int), ("layer_end", c_int), ("embed", c_bool),
                ("head", c_bool), ("n_threads", c_int), ("backend", c_int), ("gpu", c_int)]


class SamplerParams(Structure):
    _fields_ = [("temperature", c_float), ("top_k", c_int), ("top_p", c_float),
                ("min_p", c_float), ("repeat_penalty", c_float), ("repeat_last_n", c_int),
                ("seed", c_uint64)]


class StageStats(Structure):
    _fields_ = [("where", c_char * 256), ("layer_begin", c_int), ("layer_end", c_int),
                ("dtype", c_int), ("compute_us", c_uint64), ("network_us", c_uint64),
                ("sent_bytes", c_uint64), ("recv_bytes", c_uint64), ("max_rel_err", c_double)]


class Recovery(Structure):
    _fields_ = [("kind", c_int), ("layer_begin", c_int), ("layer_end", c_int),
                ("from_", c_char * 256), ("to", c_char * 256), ("why", c_char * 512),
                ("detect_ms", c_double), ("pause_ms", c_double), ("replayed", c_int),
                ("kv_bytes", c_uint64)]


class SplitStats(Structure):
    _fields_ = [("n_stages", c_int), ("stage", StageStats * MAX_STAGES), ("local_us", c_uint64),
                ("total_us", c_uint64), ("n_recoveries", c_int), ("recovery", Recovery * 4)]


class StepInfo(Structure):
    _fields_ = [("has_split", c_bool), ("split", SplitStats)]


class GenerateEvent(Structure):
    _fields_ = [("token", c_int32), ("piece", POINTER(c_char)), ("piece_len", c_int),
                ("pos", c_int), ("step_ms", c_double), ("info", POINTER(StepInfo))]


ON_TOKEN = CFUNCTYPE(None, c_void_p, POINTER(GenerateEvent))
ON_HIDDEN = CFUNCTYPE(None, c_void_p, c_int, POINTER(c_float), c_int, c_int)


class GenerateParams(Structure):
    _fields_ = [("sampling", SamplerParams), ("n_predict", c_int), ("parse_special", c_bool),
                ("measure", c_bool), ("stop", POINTER(c_int)), ("on_token", ON_TOKEN),
                ("ctx", c_void_p)]


class GenerateResult(Structure):
    _fields_ = [("n_prompt", c_int), ("n_gen", c_int), ("prompt_ms", c_double),
                ("decode_ms", c_double), ("eog", c_bool), ("stopped", c_bool),
                ("text", c_void_p), ("text_len", c_size_t)]


class SplitParams(Structure):
    _fields_ = [("model_path", c_char_p), ("spec", c_char_p), ("wire_dtype", c_int),
                ("head_remote", c_bool), ("n_threads", c_int), ("backend", c_int), ("gpu", c_int),
                ("n_ctx", c_int), ("timeout_ms", c_int), ("fail_after_ms", c_int),
                ("fallback", c_int), ("lossy_gain", c_double),
                ("server_keys", c_char_p * MAX_STAGES), ("n_server_keys", c_int),
                ("key_file", c_char_p), ("on_hidden", ON_HIDDEN), ("hidden_ctx", c_void_p)]


class ModelInfo(Structure):
    _fields_ = [("arch", c_int), ("arch_name", c_char_p), ("name", c_char * 128),
                ("n_layer", c_int), ("d_model", c_int), ("n_head", c_int), ("n_head_kv", c_int),
                ("head_dim", c_int), ("d_ff", c_int), ("n_vocab", c_int), ("n_ctx_train", c_int),
                ("sliding_window", c_int), ("rope_base", c_float), ("rope_base_swa", c_float),
                ("norm_eps", c_float)]


class LinkProfile(Structure):
    _fields_ = [("rtt_us", c_double), ("bytes_per_us", c_double)]


class Profile(Structure):
    _fields_ = [("backend", c_char * 16), ("threads", c_int), ("n_layer", c_int), ("d_model", c_int),
                ("dec_a", c_double * PROFILE_MAX_LAYERS), ("dec_b", c_double * PROFILE_MAX_LAYERS),
                ("prefill_us_per_token", c_double * PROFILE_MAX_LAYERS),
                ("weight_bytes", c_uint64 * PROFILE_MAX_LAYERS), ("kv_bytes_per_token", c_uint64),
                ("embed_us", c_double), ("head_us", c_double), ("embed_bytes", c_uint64),
                ("head_bytes", c_uint64), ("busy", c_double)]


class PlanConstraints(Structure):
    _fields_ = [("context", c_int), ("prompt", c_int), ("client_mem", c_double),
                ("keep_first", c_int), ("keep_last", c_int), ("dtypes", c_uint),
                ("server_begin", c_int), ("server_end", c_int), ("server_has_head", c_bool),
                ("objective", c_int), ("mix_weight", c_double), ("lossy_gain", c_double)]


class PlanCost(Structure):
    _fields_ = [("decode_us", c_double), ("ttft_us", c_double), ("client_compute_us", c_double),
                ("server_compute_us", c_double), ("link_us", c_double), ("client_bytes", c_double),
                ("feasible", c_bool), ("why", c_char_p)]


class Plan(Structure):
    _fields_ = [("a", c_int), ("b", c_int), ("head_remote", c_bool), ("dtype", c_int)]


class PlannerParams(Structure):
    _fields_ = [("model_path", c_char_p), ("servers", c_char_p * PLAN_MAX_SERVERS),
                ("n_servers", c_int), ("server_key", c_char_p), ("n_threads", c_int),
                ("client_profile", c_char_p), ("client_slowdown", c_double),
                ("link_samples", c_int), ("constraints", PlanConstraints)]


class PlanServer(Structure):
    _fields_ = [("endpoint", c_char_p), ("begin", c_int), ("end", c_int), ("has_head", c_bool),
                ("link", LinkProfile), ("busy", c_double), ("standby_for", c_int)]


class PlanResult(Structure):
    _fields_ = [("spec", c_char * PLAN_SPEC_MAX), ("head_remote", c_bool), ("dtype", c_int),
                ("cost", PlanCost), ("all_local", PlanCost),
                ("alone_spec", (c_char * PLAN_SPEC_MAX) * PLAN_MAX_SERVERS),
                ("alone", PlanCost * PLAN_MAX_SERVERS), ("n_layer", c_int), ("n_servers", c_int),
                ("server", PlanServer * PLAN_MAX_SERVERS),
                ("between", (LinkProfile * PLAN_MAX_SERVERS) * PLAN_MAX_SERVERS),
                ("between_measured", (c_bool * PLAN_MAX_SERVERS) * PLAN_MAX_SERVERS)]


def _candidates():
    env = os.environ.get("SEAM_LIBRARY_PATH")
    if env:
        yield os.path.join(env, "libseam.so.0") if os.path.isdir(env) else env
        return
    yield "libseam.so.0"  # an installed prefix on the linker's path
    found = ctypes.util.find_library("seam")
    if found:
        yield found
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "build", "libseam.so.0")  # a source checkout


def load():
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            tried.append(f"{path} ({e})")
    else:
        raise OSError("libseam.so.0 not found; set SEAM_LIBRARY_PATH to it or to its folder "
                      "(make builds it into build/; make install into PREFIX/lib). Tried: "
                      + "; ".join(tried))
    sig = {
        "seam_last_error": (c_char_p, []),
        "seam_version": (c_char_p, []),
        "seam_model_default_params": (ModelParams, []),
        "seam_model_new": (c_void_p, [c_char_p, POINTER(ModelParams)]),
        "seam_model_destroy": (None, [POINTER(c_void_p)]),
        "seam_model_info": (None, [c_void_p, POINTER(ModelInfo)]),
        "seam_model_backend": (c_char_p, [c_void_p]),
        "seam_session_new": (c_void_p, [c_void_p, c_void_p]),
        "seam_session_destroy": (None, [POINTER(c_void_p)]),
        "seam_stepper_local": (c_void_p, [c_void_p, c_void_p]),
        "seam_stepper_split": (c_void_p, [c_void_p]),
        "seam_stepper_destroy": (None, [POINTER(c_void_p)]),
        "seam_generate_default_params": (GenerateParams, []),
        "seam_generate": (c_int, [c_void_p, c_char_p, POINTER(GenerateParams),
                                  POINTER(GenerateResult)]),
        "seam_generate_result_free": (None, [POINTER(GenerateResult)]),
        "seam_sampler_default_params": (SamplerParams, []),
        "seam_split_new": (c_void_p, [POINTER(SplitParams)]),
        "seam_split_destroy": (None, [POINTER(c_void_p)]),
        "seam_split_layout": (c_char_p, [c_void_p]),
        "seam_dtype_parse": (c_int, [c_char_p]),
        "seam_dtype_name": (c_char_p, [c_int]),
        "seam_tokenize": (c_int, [c_void_p, c_char_p, c_size_t, POINTER(c_int32), c_int, c_bool,
                                  c_bool]),
        "seam_profile_measure": (c_int, [c_char_p, c_int, c_int, c_int, POINTER(Profile)]),
        "seam_profile_server": (c_int, [c_char_p, c_char_p, c_char_p, POINTER(Profile),
                                        POINTER(c_int), POINTER(c_int), POINTER(c_bool)]),
        "seam_profile_link": (c_int, [c_char_p, c_char_p, c_int, c_uint32, POINTER(LinkProfile)]),
        "seam_profile_save": (c_int, [c_char_p, POINTER(Profile), POINTER(LinkProfile)]),
        "seam_profile_load": (c_int, [c_char_p, POINTER(Profile), POINTER(LinkProfile)]),
        "seam_plan_default_constraints": (PlanConstraints, [c_int]),
        "seam_plan_cost": (PlanCost, [POINTER(Profile), POINTER(Profile), POINTER(LinkProfile),
                                      POINTER(Plan), POINTER(PlanConstraints)]),
        "seam_planner_default_params": (PlannerParams, []),
        "seam_plan_make": (c_int, [POINTER(PlannerParams), POINTER(PlanResult)]),
        "seam_plan_write_spec": (c_int, [c_char_p, c_char_p, c_bool, c_int, c_char_p,
                                         POINTER(PlanCost), c_char_p]),
        "seam_plan_read": (c_int, [c_char_p, c_char_p, c_size_t, POINTER(c_bool), c_char_p,
                                   c_size_t]),
        "seam_objective_parse": (c_int, [c_char_p]),
        "seam_objective_name": (c_char_p, [c_int]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    return lib
