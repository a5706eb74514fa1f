"""Speed of the NumPy reference layers relative to torch.nn.functional, on CPU.

    python benchmarks/bench_reference.py [--threads 2] [--repeats 7] [--clock wall|cpu]

Float32, one process; NumPy's BLAS and PyTorch get the same number of threads (default 2,
as on the CI machine). Each time is the best of ``--repeats`` runs, NumPy and PyTorch
interleaved so that a busy machine slows both alike. ``--clock cpu`` measures process CPU
time instead of wall time: with ``--threads 1`` it is the fairest comparison on a shared,
overloaded machine (the load average is printed; above the core count, wall times with
2 threads mostly measure the other processes). Peak memory is what NumPy allocates during
forward + backward (tracemalloc sees NumPy's buffers), next to the input's size for scale.
A benchmark, not a test: it asserts nothing.
"""

import argparse
import os

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeats", type=int, default=7)
parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
ARGS = parser.parse_args()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)  # before NumPy and PyTorch start their thread pools

import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnlab import reference as R  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # the environment variables above already cap the pools
    threadpool_limits = None

CONV_SHAPES = [  # (N, C, H, W, F, stride); 3x3 kernel, padding 1
    (64, 3, 32, 32, 32, 1),
    (64, 32, 16, 16, 64, 1),
    (16, 64, 56, 56, 64, 1),
    (64, 32, 32, 32, 64, 2),
]
POOL_SHAPE = (64, 32, 32, 32)  # max-pool 2x2, stride 2


def best_of(repeats, clock, *fns):
    """Best time of each function over `repeats` interleaved rounds (after one warm-up)."""
    best = [float("inf")] * len(fns)
    for fn in fns:
        fn()
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = clock()
            fn()
            best[i] = min(best[i], clock() - start)
    return best


def peak_bytes(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def conv_case(shape, rng):
    N, C, H, W, Fo, stride = shape
    x = rng.standard_normal((N, C, H, W), dtype=np.float32)
    w = rng.standard_normal((Fo, C, 3, 3), dtype=np.float32) * 0.1
    b = rng.standard_normal(Fo, dtype=np.float32)
    dout = rng.standard_normal(R.conv2d(x, w, b, stride, 1).shape, dtype=np.float32)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dout_t = torch.tensor(dout)

    def np_forward():
        R.conv2d(x, w, b, stride, 1)

    def np_both():
        R.conv2d(x, w, b, stride, 1)
        R.conv2d_backward(dout, x, w, stride, 1)

    def torch_forward():
        with torch.no_grad():
            F.conv2d(xt, wt, bt, stride, 1)

    def torch_both():
        F.conv2d(xt, wt, bt, stride, 1).backward(dout_t)
        xt.grad = wt.grad = bt.grad = None

    label = f"conv3x3 N{N} {C}->{Fo} {H}x{W} s{stride}"
    return label, x.nbytes, np_forward, np_both, torch_forward, torch_both


def pool_case(shape, rng):
    x = rng.standard_normal(shape, dtype=np.float32)
    dout = rng.standard_normal(R.max_pool2d(x, 2).shape, dtype=np.float32)
    xt, dout_t = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def np_forward():
        R.max_pool2d(x, 2)

    def np_both():
        R.max_pool2d(x, 2)
        R.max_pool2d_backward(dout, x, 2)

    def torch_forward():
        with torch.no_grad():
            F.max_pool2d(xt, 2)

    def torch_both():
        F.max_pool2d(xt, 2).backward(dout_t)
        xt.grad = None

    N, C, H, W = shape
    return f"maxpool2x2 N{N} C{C} {H}x{W}", x.nbytes, np_forward, np_both, torch_forward, torch_both


def main():
    args = ARGS
    torch.set_num_threads(args.threads)
    if threadpool_limits is not None:
        threadpool_limits(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    rng = np.random.default_rng(0)
    cases = [conv_case(s, rng) for s in CONV_SHAPES] + [pool_case(POOL_SHAPE, rng)]

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"numpy {np.__version__}, torch {torch.__version__}, float32, {args.threads} thread(s), {args.clock} clock, "
          f"best of {args.repeats}; {os.cpu_count()} CPUs, load average {load}")
    header = (f"{'case':<32} {'np fwd ms':>9} {'pt fwd ms':>9} {'fwd ratio':>9} "
              f"{'np f+b ms':>9} {'pt f+b ms':>9} {'f+b ratio':>9} {'np peak MiB':>11} {'input MiB':>9}")
    print(header)
    print("-" * len(header))
    for label, input_bytes, np_fwd, np_both, pt_fwd, pt_both in cases:
        t_np_fwd, t_pt_fwd, t_np_both, t_pt_both = best_of(args.repeats, clock, np_fwd, pt_fwd, np_both, pt_both)
        peak = peak_bytes(np_both)
        print(f"{label:<32} {t_np_fwd * 1e3:9.2f} {t_pt_fwd * 1e3:9.2f} {t_np_fwd / t_pt_fwd:9.2f} "
              f"{t_np_both * 1e3:9.2f} {t_pt_both * 1e3:9.2f} {t_np_both / t_pt_both:9.2f} "
              f"{peak / 2**20:11.1f} {input_bytes / 2**20:9.1f}")
    print("ratio = cnnlab.reference time / torch.nn.functional time (lower is better; 1.0 = as fast as torch)")


if __name__ == "__main__":
    main()
