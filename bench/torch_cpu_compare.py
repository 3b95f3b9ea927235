#!/usr/bin/python3
"""graft's CPU conv2d (and optionally SGEMM) against PyTorch on the same CPU, shapes and threads.

Runs each benchmark of the graft binary (--benchmark_format=json), then times PyTorch (oneDNN
underneath) right after on the very shape the binary reports, and prints a markdown table with
the geometric mean of the graft / PyTorch ratios per pass. The sweep is repeated and both sides
keep their best: the machine is shared, and the best run is the one least disturbed.

    GRAFT_NUM_THREADS=2 /usr/bin/python3 bench/torch_cpu_compare.py build/bench/bench_conv2d \
        [--gemm build/bench/bench_gemm] [--filter forward] [--repetitions 3]

The thread count is GRAFT_NUM_THREADS (default: all cores) for both graft and torch; the batch
is the binary's (GRAFT_BENCH_BATCH, default 8).
"""
import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

# The label bench_conv2d gives each benchmark: "in=64x56x56 out=64 k=3 s=1 p=1 batch=8".
LABEL = re.compile(r"in=(\d+)x(\d+)x(\d+) out=(\d+) k=(\d+) s=(\d+) p=(\d+) batch=(\d+)")
PASSES = ("forward", "backward_data", "backward_weight")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench_conv2d", help="path of the bench_conv2d binary")
    parser.add_argument("--gemm", metavar="BENCH_GEMM",
                        help="also compare SGEMM: path of the bench_gemm binary (torch.mm and "
                             "oneDNN's inner product at the same sizes)")
    parser.add_argument("--filter", default="",
                        help="regex passed to bench_conv2d's --benchmark_filter")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="sweeps over the benchmarks; the best run of each counts")
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds per timed run")
    return parser.parse_args()


def thread_count():
    value = os.environ.get("GRAFT_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count()


def list_benchmarks(binary, name_filter):
    command = [binary, "--benchmark_list_tests"]
    if name_filter:
        command.append(f"--benchmark_filter={name_filter}")
    listed = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
    return [name for name in listed if name]


def run_benchmark_once(binary, name, args, threads):
    """Runs the one benchmark `name`; returns its JSON entry (with GFLOP/s and label)."""
    command = [binary, "--benchmark_format=json", f"--benchmark_filter=^{re.escape(name)}$",
               f"--benchmark_min_time={args.min_time}"]
    env = dict(os.environ, GRAFT_NUM_THREADS=str(threads))
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    entries = [e for e in json.loads(result.stdout)["benchmarks"] if "GFLOP/s" in e]
    return entries[0] if entries else None


def interleaved_best(binary, name_filter, args, threads, time_torch):
    """Best graft and PyTorch GFLOP/s per benchmark over args.repetitions sweeps.

    Each sweep times every benchmark in graft and then right away in PyTorch, so both sides of a
    row see about the same load on the shared machine. Returns [(name, entry, graft, torch)].
    """
    names = list_benchmarks(binary, name_filter)
    best = {}
    for _ in range(args.repetitions):
        for name in names:
            entry = run_benchmark_once(binary, name, args, threads)
            if entry is None:
                continue  # not a GFLOP/s benchmark
            torch_gflops = time_torch(name, entry)
            if torch_gflops is None:
                continue
            _, graft_best, torch_best = best.get(name, (entry, 0.0, 0.0))
            best[name] = (entry, max(graft_best, entry["GFLOP/s"]), max(torch_best, torch_gflops))
    return [(name, *best[name]) for name in names if name in best]


def best_seconds(fn, repetitions, min_time):
    """The best over `repetitions` runs of the mean time per call, each run at least min_time."""
    fn()  # warm-up: oneDNN primitive creation, allocations
    best = math.inf
    for _ in range(repetitions):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / calls)
    return best


def torch_conv_gflops(label, pass_name, args):
    c, h, w, k_out, k, s, p, batch = (int(v) for v in LABEL.fullmatch(label).groups())
    x = torch.randn(batch, c, h, w)
    weight = torch.randn(k_out, c, k, k)
    y = F.conv2d(x, weight, None, s, p)
    dy = torch.randn_like(y)
    mask = {"backward_data": [True, False, False], "backward_weight": [False, True, False]}

    def run():
        if pass_name == "forward":
            return F.conv2d(x, weight, None, s, p)
        return torch.ops.aten.convolution_backward(dy, x, weight, None, [s, s], [p, p], [1, 1],
                                                   False, [0, 0], 1, mask[pass_name])

    macs = y.numel() * c * k * k
    with torch.no_grad():
        seconds = best_seconds(run, 1, args.min_time)
    return 2 * macs / seconds * 1e-9


def torch_mm_gflops(m, n, k, args):
    """torch.mm and oneDNN's inner product (what nn.Linear runs on oneDNN tensors) at m x n x k.

    Debian's torch links the reference BLAS, so torch.mm alone is no fair baseline for SGEMM.
    """
    a, b = torch.randn(m, k), torch.randn(k, n)
    a_onednn, b_t_onednn = a.to_mkldnn(), b.t().contiguous().to_mkldnn()
    flops = 2 * m * n * k * 1e-9
    mm = flops / best_seconds(lambda: torch.mm(a, b), 1, args.min_time)

    def inner_product():
        return torch._C._nn.mkldnn_linear(a_onednn, b_t_onednn, None)

    onednn = flops / best_seconds(inner_product, 1, args.min_time)
    return mm, onednn


def geometric_mean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def print_header(threads):
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"CPU: {cpu}; threads: {threads}; torch {torch.__version__} "
          f"(oneDNN: {torch.backends.mkldnn.is_available()}); {time.strftime('%Y-%m-%d %H:%M')}\n")


def compare_conv2d(args, threads):
    def time_torch(name, entry):
        return torch_conv_gflops(entry["label"], name.split("/")[1], args)

    results = interleaved_best(args.bench_conv2d, args.filter, args, threads, time_torch)
    ratios = {p: [] for p in PASSES}
    print("| layer | pass | shape | graft GFLOP/s | PyTorch GFLOP/s | ratio |")
    print("|---|---|---|---:|---:|---:|")
    for name, entry, graft_gflops, torch_gflops in results:
        _, pass_name, layer = re.sub(r"/real_time$", "", name).split("/", 2)
        ratio = graft_gflops / torch_gflops
        ratios[pass_name].append(ratio)
        print(f"| {layer} | {pass_name} | {entry['label']} | {graft_gflops:.1f} "
              f"| {torch_gflops:.1f} | {ratio:.2f} |")
    print("\n| pass | geometric mean of graft / PyTorch |")
    print("|---|---:|")
    for pass_name in PASSES:
        if ratios[pass_name]:
            print(f"| {pass_name} | {geometric_mean(ratios[pass_name]):.2f} |")


def compare_gemm(args, threads):
    mm_best = {}  # name -> best torch.mm GFLOP/s (the ratio is taken against oneDNN)

    def time_torch(name, entry):
        sizes = [int(v) for v in re.findall(r"/(\d+)", name)]
        if len(sizes) not in (1, 3):
            return None  # not a sized product (e.g. a peak measurement)
        m, n, k = sizes * 3 if len(sizes) == 1 else sizes
        torch.set_num_threads(int(entry.get("threads", threads)))
        mm, onednn = torch_mm_gflops(m, n, k, args)
        torch.set_num_threads(threads)
        mm_best[name] = max(mm_best.get(name, 0.0), mm)
        return onednn

    results = interleaved_best(args.gemm, "", args, threads, time_torch)
    print("\n| SGEMM benchmark | threads | graft GFLOP/s | oneDNN GFLOP/s | ratio "
          "| torch.mm GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios = []
    for name, entry, graft_gflops, onednn_gflops in results:
        ratio = graft_gflops / onednn_gflops
        ratios.append(ratio)
        print(f"| {name} | {int(entry.get('threads', threads))} | {graft_gflops:.1f} | "
              f"{onednn_gflops:.1f} | {ratio:.2f} | {mm_best[name]:.1f} |")
    print(f"\nSGEMM geometric mean of graft / oneDNN: {geometric_mean(ratios):.2f} "
          "(torch.mm runs the reference BLAS in this torch build)")


def main():
    args = parse_args()
    threads = thread_count()
    torch.set_num_threads(threads)
    print_header(threads)
    compare_conv2d(args, threads)
    if args.gemm:
        compare_gemm(args, threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
