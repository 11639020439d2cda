"""cuda_standalone (Brian2CUDA): code generation, an nvcc build, and clear errors.

Without a GPU: every shipped model generates a CUDA project whose kernels
store every state variable the model advances; one small network compiles
into a binary with nvcc (marker ``cuda_build``); missing pieces give one-line
errors. With a GPU (marker ``cuda``, deselected by default): cuda_standalone
against cpp_standalone, see test_cuda_gpu.py.
"""

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bioadapt import BackendError, network_from_dict, simulate
from bioadapt.backends.brian import cuda
from bioadapt.backends.brian.standalone import StandaloneNetwork
from bioadapt.cli import main
from helpers import HAVE_BRIAN2CUDA, MEMBRANE, model_network

needs_brian2cuda = pytest.mark.skipif(not HAVE_BRIAN2CUDA, reason="brian2cuda is not installed (pip install 'bioadapt[cuda]')")

SHIPPED = ["lif", "li", "adlif", "cadlif", "stc", "mtc", "relay"]
#: Brian2CUDA kernels that advance a group's state: the state updater, program
#: blocks, the split of symplectic_euler and [every_step] blocks
#: (Brian2 appends _1, _2 ... to code object names already used in the process)
STATE_KERNEL_FILE = re.compile(r"^(?P<group>\w+?)_(stateupdater|program_\w+|scheme_\w+|every_step_\w+)_codeobject(_\d+)?\.cu$")
ASSIGNED = re.compile(r"^\s*([A-Za-z_]\w*)\s*[-+*/]?=(?!=)", re.MULTILINE)


def _advanced_variables(pop) -> set:
    """Variables a population's per-step code writes: ODE variables and program/[every_step] targets."""
    model = pop.model
    names = set(model.brian_equations.diff_eq_names)
    blocks = list(model.programs.get(pop.scheme, {}).values()) + list(model.every_step.values())
    for code in blocks:
        names.update(ASSIGNED.findall(code))
    return names


def _has_code_object(sources, stem: str) -> bool:
    return any(re.fullmatch(rf"{stem}(_\d+)?\.cu", f) for f in sources)


def _makefile_flags(project) -> tuple[str, str]:
    text = Path(project, "makefile").read_text()
    nvcc = re.search(r"^NVCCFLAGS = (.*)$", text, re.MULTILINE).group(1)
    lflags = re.search(r"^LFLAGS = (.*)$", text, re.MULTILINE).group(1)
    return nvcc, lflags


def _assert_cuda17(nvcc_flags: str, compute_capability: float):
    # nvcc takes the last -std; the host compiler gets its own through -Xcompiler
    assert re.findall(r"(?<![\w\"])-std=(c\+\+\d+)", nvcc_flags.split("-Xcompiler")[0])[-1] == "c++17", nvcc_flags
    host = re.search(r'-Xcompiler "([^"]*)"', nvcc_flags).group(1)
    assert "-std=c++17" in host.split() and "-std=c++11" not in host.split(), host
    assert f"-arch=sm_{int(round(compute_capability * 10))}" in nvcc_flags.split(), nvcc_flags


@needs_brian2cuda
@pytest.mark.parametrize("model", SHIPPED)
def test_code_generation_for_every_shipped_model(model, tmp_path):
    spec = network_from_dict(model_network(model, steps=50))
    project = str(tmp_path / "project")
    record = {"hid": [MEMBRANE[model]]}
    start = time.perf_counter()
    net = StandaloneNetwork(spec, record=record, directory=project, target="cuda_standalone", compile=False, compute_capability=9.0)
    print(f"{model}: cuda_standalone code generation {time.perf_counter() - start:.2f} s")
    assert net.compute_capability == 9.0 and not os.path.exists(os.path.join(project, "main"))

    sources = os.listdir(os.path.join(project, "code_objects"))
    for pop in spec.populations.values():
        if pop.is_input:
            continue
        advanced = _advanced_variables(pop)
        kernels = {f: Path(project, "code_objects", f).read_text() for f in sources if (m := STATE_KERNEL_FILE.match(f)) and m.group("group") == pop.name}
        assert kernels or not advanced, f"no state-update kernel for population '{pop.name}' in {sorted(sources)}"
        for name, text in kernels.items():
            assert f"__global__ void\n_run_kernel_{name[:-3]}(" in text, name
        text = "".join(kernels.values())
        for var in sorted(advanced):
            assert f"_ptr_array_{pop.name}_{var}[_idx] = {var};" in text, f"{model}: no kernel of '{pop.name}' stores '{var}'"
        if pop.model.threshold:
            assert _has_code_object(sources, f"{pop.name}_spike_thresholder_codeobject"), sorted(sources)
    for proj in spec.projections:
        pathway = f"{proj.name}_pre_codeobject" if proj.on_pre else f"{proj.name}_summed_variable_{proj.summed.split('=')[0].strip()}_codeobject"
        assert _has_code_object(sources, pathway), f"projection '{proj.name}': no {pathway} in {sorted(sources)}"
    assert _has_code_object(sources, "hid_trace_codeobject")
    with pytest.raises(BackendError, match=r"only generated \(compile=False\)"):
        net.run()
    nvcc_flags, _ = _makefile_flags(project)
    _assert_cuda17(nvcc_flags, 9.0)
    assert "--fmad=false" in nvcc_flags.split() and "-use_fast_math" not in nvcc_flags


@needs_brian2cuda
def test_compute_capability_and_fast_math_reach_the_makefile(tmp_path):
    spec = network_from_dict(model_network("lif", steps=20))
    StandaloneNetwork(spec, directory=str(tmp_path / "p"), target="cuda_standalone", compile=False, compute_capability=8.6, fast_math=True)
    nvcc_flags, _ = _makefile_flags(str(tmp_path / "p"))
    _assert_cuda17(nvcc_flags, 8.6)
    assert "-use_fast_math" in nvcc_flags.split() and "--fmad=false" not in nvcc_flags


@needs_brian2cuda
def test_brian2cuda_preferences_and_phase_timers_reach_the_project(tmp_path):
    """A Brian2CUDA preference given to StandaloneNetwork changes the generated
    code (heterogeneous delays: synapse bundles or per-synapse pushes) and is
    restored afterwards; the loop's timestamps wait for the GPU."""
    from brian2 import prefs

    spec = network_from_dict(model_network("adlif", steps=50))
    name = "devices.cuda_standalone.push_synapse_bundles"
    for bundles in (False, True):
        project = tmp_path / f"bundles_{bundles}"
        StandaloneNetwork(spec, directory=str(project), target="cuda_standalone", compile=False, compute_capability=9.0, preferences={name: bundles})
        code = "".join(p.read_text() for p in (project / "code_objects").glob("before_run_*_push_spikes*.cu"))
        assert ("h_global_bundle_id_start_by_pre" in code) == bundles and ("h_num_unique_delays_by_pre" in code) == (not bundles)
        main = (project / "main.cu").read_text()
        assert re.search(r'cudaDeviceSynchronize\(\)\);\s*bioadapt_phase\("loop_start"\);\s*\w+\.run\(', main)
        assert re.search(r'\.run\([^\n]*\);\s*CUDA_SAFE_CALL\(cudaDeviceSynchronize\(\)\);\s*bioadapt_phase\("loop_end"\)', main)
    assert prefs[name] is True


def test_compute_capability_defaults_to_the_gpu_then_the_oldest_cuda13_architecture(monkeypatch):
    monkeypatch.setattr(cuda, "import_brian2cuda", lambda: None)
    monkeypatch.setattr(cuda, "find_gpus", lambda: [cuda.Gpu(0, "NVIDIA H100 80GB HBM3", 9.0)])
    assert cuda.cuda_settings(compile=False).compute_capability == 9.0
    assert cuda.cuda_settings(8.0, compile=False).compute_capability == 8.0
    monkeypatch.setattr(cuda, "find_gpus", lambda: [])
    assert cuda.cuda_settings(compile=False).compute_capability == cuda.FALLBACK_COMPUTE_CAPABILITY == 7.5
    with pytest.raises(BackendError, match=r"compute capability 6.1 is not supported by CUDA 13; use 7.5 or above"):
        cuda.cuda_settings(6.1, compile=False)


def _executable(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_gpus_are_read_from_nvidia_smi_and_cuda_visible_devices(tmp_path, monkeypatch):
    _executable(tmp_path / "nvidia-smi", "#!/bin/sh\nprintf 'NVIDIA H100 80GB HBM3, 9.0\\nNVIDIA A100-SXM4-40GB, 8.0\\n'\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert cuda.find_gpus() == [cuda.Gpu(0, "NVIDIA H100 80GB HBM3", 9.0), cuda.Gpu(1, "NVIDIA A100-SXM4-40GB", 8.0)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert cuda.find_gpus() == [cuda.Gpu(0, "NVIDIA A100-SXM4-40GB", 8.0)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert cuda.find_gpus() == []
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cuda.find_gpus() == []


def test_missing_brian2cuda_is_one_line_with_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "brian2cuda", None)  # makes `import brian2cuda` fail
    spec = network_from_dict(model_network("lif", steps=20))
    with pytest.raises(BackendError, match=r"^The cuda_standalone backend needs brian2cuda, which is not installed .*pip install 'bioadapt\[cuda\]'\.$") as info:
        simulate(spec, backend="cuda_standalone")
    assert "\n" not in str(info.value)
    with pytest.raises(BackendError, match="needs brian2cuda"):
        StandaloneNetwork(spec, target="cuda_standalone", compile=False, directory=str(tmp_path / "p"))
    net = tmp_path / "net.toml"
    net.write_text('dt = "0.1*ms"\nduration = "2*ms"\n[populations.hid]\nmodel = "lif"\nsize = 3\n')
    assert main(["simulate", str(net), "--backend", "cuda_standalone"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bioadapt: error: The cuda_standalone backend needs brian2cuda") and err.count("\n") == 1


def test_missing_nvcc_names_where_it_looked(monkeypatch, tmp_path):
    for key in ("CUDA_PATH", "CUDA_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(cuda, "CUDA_SEARCH_PATHS", (str(tmp_path / "cuda"),))
    with pytest.raises(BackendError, match=r"^cuda_standalone needs the CUDA toolkit \(nvcc\), and none was found \(CUDA_PATH, CUDA_HOME, nvcc on PATH, .*/cuda\); install the CUDA toolkit or set CUDA_PATH to it\.$"):
        cuda.find_cuda_toolkit()
    with pytest.raises(BackendError, match=r"none was found in /nowhere;"):
        cuda.find_cuda_toolkit("/nowhere")


def test_toolkit_without_curand_asks_for_the_wheel(monkeypatch, tmp_path):
    (tmp_path / "bin").mkdir()
    _executable(tmp_path / "bin" / "nvcc", "#!/bin/sh\necho 'nvcc: NVIDIA (R) Cuda compiler driver'\necho 'Cuda compilation tools, release 13.0, V13.0.88'\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site-packages")])
    with pytest.raises(BackendError, match=r"needs cuRAND, which the CUDA 13 toolkit in .* lacks and no nvidia-curand wheel for CUDA 13 provides; install it with pip install 'bioadapt\[cuda\]'"):
        cuda.find_cuda_toolkit(str(tmp_path))
    # the wheel's layout: nvidia/cu13/{include/curand.h, lib/libcurand.so.10}
    wheel = tmp_path / "site-packages" / "nvidia" / "cu13"
    (wheel / "include").mkdir(parents=True)
    (wheel / "lib").mkdir()
    (wheel / "include" / "curand.h").write_text("")
    (wheel / "lib" / "libcurand.so.10").write_text("")
    toolkit = cuda.find_cuda_toolkit(str(tmp_path))
    assert (toolkit.version, toolkit.curand_include, toolkit.curand_lib) == (13.0, str(wheel / "include"), str(wheel / "lib"))


@needs_brian2cuda
def test_no_gpu_fails_before_compiling(monkeypatch, tmp_path):
    monkeypatch.setattr(cuda, "find_gpus", lambda: [])
    spec = network_from_dict(model_network("lif", steps=20))
    start = time.perf_counter()
    with pytest.raises(BackendError, match=r"^cuda_standalone needs an NVIDIA GPU to run, and nvidia-smi found none .*StandaloneNetwork\(spec, target='cuda_standalone'\)") as info:
        simulate(spec, backend="cuda_standalone", directory=str(tmp_path / "p"))
    assert "\n" not in str(info.value) and time.perf_counter() - start < 10
    assert not (tmp_path / "p").exists()


@pytest.mark.cuda_build
def test_nvcc_builds_a_small_network_without_a_gpu(monkeypatch, tmp_path):
    spec = network_from_dict(model_network("lif", steps=100))
    project = tmp_path / "project"
    toolkit = cuda.find_cuda_toolkit()
    net = StandaloneNetwork(spec, record={"hid": ["v"]}, directory=str(project), target="cuda_standalone", compute_capability=9.0)
    print(f"cuda_standalone: code generation and nvcc build of a {sum(p.size for p in spec.populations.values())}-neuron network: {net.compile_time:.1f} s")
    binary = project / "main"
    assert binary.is_file() and os.access(binary, os.X_OK)
    nvcc_flags, lflags = _makefile_flags(str(project))
    _assert_cuda17(nvcc_flags, 9.0)
    assert "-lcurand" in lflags.split()
    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"NEEDED.*\[libcurand\.so\.\d+\]", dynamic), dynamic
    libraries = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"libcurand\.so\.\d+ => /", libraries) and "not found" not in libraries, libraries
    if toolkit.curand_lib is not None:  # cuRAND from the nvidia-curand wheel: found at run time through the rpath
        assert toolkit.curand_lib in re.search(r"(RUNPATH|RPATH).*\[(.*)\]", dynamic).group(2)
        assert f"-I{toolkit.curand_include}" in nvcc_flags and f"-L{project / 'curand_link'}" in lflags.split()
        assert os.path.realpath(project / "curand_link" / "libcurand.so").startswith(toolkit.curand_lib)
    # the binary exists, but running it needs a GPU
    monkeypatch.setattr(cuda, "find_gpus", lambda: [])
    with pytest.raises(BackendError, match="cuda_standalone needs an NVIDIA GPU to run"):
        net.run()
