#!/usr/bin/env bash
# Compile vqtex with `--features cuda` on a machine without a GPU or a system CUDA install.
#
#   scripts/build-cuda.sh            # cargo check --features cuda   (nvcc still builds candle's kernels)
#   scripts/build-cuda.sh --build    # cargo build --release --features cuda (links: needs the CUDA libraries)
#   scripts/build-cuda.sh --cudnn    # the same with --features cudnn (with --build, cuDNN is installed too)
#   scripts/build-cuda.sh --build -- --bin vqtex   # anything after -- goes to cargo
#
# The CUDA toolkit comes from PyPI into .cuda/ (git-ignored): the `cuda-toolkit` meta-package with the
# nvcc, cccl, crt, nvvm and cudart extras (nvcc, cicc, ptxas, headers, thrust/cub), plus nvrtc, curand and
# cublas when linking. It is CUDA 13: NVIDIA's CUDA 12 wheels (nvidia-cuda-nvcc-cu12 12.1 to 12.9)
# carry ptxas and libnvvm but no nvcc driver, cicc, cudafe++ or fatbinary, so they cannot compile a .cu
# file. The default is CUDA 13.0, the oldest CUDA 13: the driver JIT-compiles candle's PTX and rejects
# PTX of a toolkit newer than itself, so a 13.0 build runs on every CUDA 13 driver (>= 580), and
# cudarc 0.19 knows CUDA up to 13.4. A binary built this way needs, where it runs, an NVIDIA driver
# (libcuda.so.1: without it the binary does not start) and the CUDA 13 runtime libraries (cudart,
# cublas, cublasLt, curand, nvrtc) on LD_LIBRARY_PATH: .cuda/root/lib here, or any CUDA 13 install
# there (PyTorch's cu130 wheels carry them in site-packages/nvidia/cu13/lib). Tried on an H100,
# driver 580.159 (CUDA 13.0). The first run on a machine spends about 15 s while the driver compiles
# the PTX; it caches the result in ~/.nv/ComputeCache.
#
# Environment:
#   CUDA_COMPUTE_CAP        GPU architecture for candle's kernels (default 90: H100)
#   CUDA_TOOLKIT_VERSION    version of the PyPI `cuda-toolkit` meta-package (default 13.0.2)
#   VQTEX_CUDA_DIR          where the toolkit goes (default .cuda in the repository)
#   CUDAFORGE_THREADS       parallel nvcc jobs in candle-kernels' build script (default: nproc)
# Output goes to target/cuda, so it never waits on the lock of the main build in target/.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=check
FEATURES=cuda
CARGO_EXTRA=()
while (($#)); do
  case $1 in
    --build) MODE=build ;;
    --check) MODE=check ;;
    --cudnn) FEATURES=cudnn ;;
    --) shift; CARGO_EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-cuda: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

TOOLKIT=${CUDA_TOOLKIT_VERSION:-13.0.2}
DEST=${VQTEX_CUDA_DIR:-$PWD/.cuda}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
log() { echo "build-cuda: $*" >&2; }

# 1. The toolkit, in a virtualenv so that later pip runs add packages to the shared nvidia/cu13 tree
#    (pip --target would replace the whole nvidia/ folder instead).
# crt, nvvm and cudart are named as extras too: nvidia-cuda-nvcc itself asks for them unpinned, so pip
# would otherwise take the newest (a CUDA 13.5 cicc emits PTX 9.5, which a 13.0 ptxas rejects).
EXTRAS=nvcc,cccl,crt,nvvm,cudart
PKGS=()
if [[ $MODE == build ]]; then
  EXTRAS+=,nvrtc,curand,cublas
  [[ $FEATURES == cudnn ]] && PKGS+=(nvidia-cudnn-cu13)
fi
WANT="cuda-toolkit[$EXTRAS]==$TOOLKIT ${PKGS[*]}"
STAMP=$DEST/installed.txt
if [[ ! -f $STAMP ]] || ! grep -qxF "$WANT" "$STAMP"; then
  if [[ ! -x $DEST/venv/bin/pip ]]; then
    log "creating $DEST/venv"
    python3 -m venv "$DEST/venv"
  fi
  log "pip install $WANT"
  # Exit 3 when the toolkit cannot be fetched (no network to PyPI): .ci/run then skips the check.
  nice -n 10 "$DEST/venv/bin/pip" install --quiet --disable-pip-version-check \
    "cuda-toolkit[$EXTRAS]==$TOOLKIT" "${PKGS[@]}" || { log "pip install failed"; exit 3; }
  echo "$WANT" >>"$STAMP"
fi

# 2. A CUDA root as nvcc, cudaforge (candle-kernels) and cudarc expect it: bin/nvcc, include/, lib/,
#    lib64/, nvvm/. The cu13 wheels already share one such tree; add what a system install also has.
CU13=$(ls -d "$DEST"/venv/lib/python3*/site-packages/nvidia/cu13 2>/dev/null | head -n1)
[[ -n $CU13 && -x $CU13/bin/nvcc ]] || { log "no nvcc under $DEST/venv (remove $DEST and retry)"; exit 1; }
ln -sfn "$CU13" "$DEST/root"
ROOT=$DEST/root
[[ -e $ROOT/lib64 ]] || ln -s lib "$ROOT/lib64"
# cuDNN's wheel has a tree of its own (nvidia/cudnn/lib): its libraries join the root's lib/.
for so in "$CU13"/../cudnn/lib/libcudnn*.so.*; do
  [[ -e $so ]] || continue
  [[ -e $ROOT/lib/${so##*/} ]] || ln -s "$(cd "${so%/*}" && pwd)/${so##*/}" "$ROOT/lib/${so##*/}"
done
# The wheels ship only versioned sonames (libcudart.so.13); the linker looks for libcudart.so.
for so in "$ROOT"/lib/lib*.so.*; do
  [[ -e $so ]] || continue
  base=${so##*/}; base=${base%%.so.*}.so
  [[ -e $ROOT/lib/$base ]] || ln -s "${so##*/}" "$ROOT/lib/$base"
done
# cudarc links libcuda (the driver), which no wheel ships: a system toolkit has lib64/stubs/libcuda.so
# for that. Make the same stub from cuda.h: every driver entry point, with the driver's soname, so the
# binary loads the real libcuda.so.1 at run time.
if [[ $MODE == build && ! -e $ROOT/lib/stubs/libcuda.so ]]; then
  log "generating the libcuda.so link stub"
  mkdir -p "$ROOT/lib/stubs"
  stub_c=$ROOT/lib/stubs/libcuda_stub.c
  {
    for d in "" -D__CUDA_API_VERSION_INTERNAL -DCUDA_API_PER_THREAD_DEFAULT_STREAM; do
      echo '#include <cuda.h>' | gcc -E -P $d -I"$ROOT/include" -x c - 2>/dev/null
    done
    echo 'cuProfilerInitialize( cuProfilerStart( cuProfilerStop(' # cudaProfiler.h is not in the wheels
  } | grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' | tr -d '( \t' | sort -u |
    sed 's/.*/void &(void) {}/' >"$stub_c"
  gcc -shared -fPIC -o "$ROOT/lib/stubs/libcuda.so" -Wl,-soname,libcuda.so.1 "$stub_c"
fi

# 3. The environment that cudarc's and candle-kernels' build scripts read.
export CUDA_ROOT=$ROOT CUDA_PATH=$ROOT CUDA_HOME=$ROOT
export NVCC=$ROOT/bin/nvcc
export PATH=$ROOT/bin:$PATH
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-$(nproc)}
log "$("$NVCC" --version | grep -o 'release [0-9.]*'), CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP, CUDA_ROOT=$ROOT"

# 4. Cargo, niced, in its own target dir. candle-kernels' build script keeps its PTX while the .cu
#    sources are unchanged, even when the toolkit changed: the driver would then be handed PTX of the
#    old toolkit. So a compiler other than the last build's cleans candle-kernels first; the
#    compiler is named by the installed versions of nvcc, cicc (nvvm) and its headers (crt).
KSTAMP=target/cuda/toolkit.txt
COMPILER=$(ls "$CU13"/../../ | grep -E '^nvidia_(cuda_nvcc|nvvm|cuda_crt)-.*dist-info$' | sort | tr '\n' ' ')
if ! grep -qsxF "$COMPILER" "$KSTAMP" && compgen -G 'target/cuda/*/build/candle-kernels-*' >/dev/null; then
  log "CUDA compiler changed ($(cat "$KSTAMP" 2>/dev/null || echo unknown) -> $COMPILER): rebuilding candle-kernels"
  cargo clean --quiet -p candle-kernels --target-dir target/cuda
  cargo clean --quiet --release -p candle-kernels --target-dir target/cuda
fi
mkdir -p target/cuda
echo "$COMPILER" >"$KSTAMP"
if [[ $MODE == build ]]; then
  set -x
  nice -n 10 cargo build --locked --release --features "$FEATURES" --target-dir target/cuda "${CARGO_EXTRA[@]}"
  { set +x; } 2>/dev/null
  log "built target/cuda/release/vqtex; to run it on a GPU machine (NVIDIA driver >= 580):"
  log "  LD_LIBRARY_PATH=$ROOT/lib target/cuda/release/vqtex ... --device cuda:0"
else
  set -x
  nice -n 10 cargo check --locked --features "$FEATURES" --target-dir target/cuda "${CARGO_EXTRA[@]}"
fi
