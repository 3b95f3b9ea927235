#!/usr/bin/python3
"""Reference trajectories of torch.optim for graft's optimizer and schedule parity tests.

Usage: optim_reference.py INPUT.safetensors OUTPUT.safetensors [INPUT OUTPUT ...]

Each INPUT is one case (several per run, as importing torch takes seconds); its metadata "mode"
picks what to run:

optimizer  INPUT holds "param:<name>" (initial values) and "grad:<step>:<name>" (the gradient of
           <name> at step 1, 2, ...; absent means no gradient at that step, as after
           zero_grad(set_to_none=True)). The metadata "optimizer" is a Python expression that
           builds the optimizer (`torch` and `params`, a dict of the parameters by name, in
           scope) and "steps" the number of steps. OUTPUT holds "<step>:<name>", every
           parameter's value after each step.
schedule   The metadata "lrs" (comma-separated) are the initial lrs of the groups of an SGD `opt`
           with the metadata "momentum";
           "schedulers" is a Python expression giving a list of (when, scheduler) pairs, when =
           "step" (stepped after every optimizer step) or "epoch" (at each epoch end, with the
           epoch's metric for ReduceLROnPlateau); `opt` and `lr_scheduler` are in scope.
           "epochs", "steps_per_epoch" and "metrics" (comma-separated, one per epoch) drive it.
           OUTPUT holds "lrs" and "momenta" (float64 [records, groups]): the groups' lrs and
           momenta after construction, then after every step's and every epoch end's scheduler calls.
clip       INPUT holds "grad:<name>" for the parameters named in the metadata "params" (comma-
           separated; a name without a tensor has no gradient) and "max_norm".
           OUTPUT holds "total_norm" (float64 scalar) and "grad:<name>" after clipping.
"""
import os
import sys
import warnings

import torch
from torch.optim import lr_scheduler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_eval import read_safetensors, write_safetensors  # noqa: E402


def run_optimizer(tensors, metadata):
    params = {}
    for key, value in tensors.items():
        if key.startswith("param:"):
            params[key[len("param:"):]] = value.clone().requires_grad_(True)
    optimizer = eval(metadata["optimizer"], {"torch": torch, "params": params})  # the test's own expression
    result = {}
    for step in range(1, int(metadata["steps"]) + 1):
        for name, p in params.items():
            grad = tensors.get(f"grad:{step}:{name}")
            p.grad = None if grad is None else grad.clone()
        optimizer.step()
        for name, p in params.items():
            result[f"{step}:{name}"] = p.detach().clone()
    return result


def run_schedule(metadata):
    lrs = [float(x) for x in metadata["lrs"].split(",")]
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    opt = torch.optim.SGD(groups, lr=lrs[0], momentum=float(metadata["momentum"]))
    schedulers = eval(metadata["schedulers"], {"opt": opt, "lr_scheduler": lr_scheduler})  # the test's own
    metrics = [float(x) for x in metadata.get("metrics", "").split(",") if x]
    lr_records, momentum_records = [], []

    def record():
        lr_records.append([g["lr"] for g in opt.param_groups])
        momentum_records.append([g["momentum"] for g in opt.param_groups])

    record()
    for epoch in range(int(metadata["epochs"])):
        for _ in range(int(metadata["steps_per_epoch"])):
            opt.step()
            for when, scheduler in schedulers:
                if when == "step":
                    scheduler.step()
            record()
        for when, scheduler in schedulers:
            if when == "epoch":
                if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(metrics[epoch])
                else:
                    scheduler.step()
        record()
    return {"lrs": torch.tensor(lr_records, dtype=torch.float64),
            "momenta": torch.tensor(momentum_records, dtype=torch.float64)}


def run_clip(tensors, metadata):
    params = []
    for name in metadata["params"].split(","):
        grad = tensors.get("grad:" + name)
        p = torch.zeros(1 if grad is None else grad.shape, dtype=torch.float32 if grad is None else grad.dtype,
                        requires_grad=True)
        p.grad = None if grad is None else grad.clone()
        params.append((name, p))
    total = torch.nn.utils.clip_grad_norm_([p for _, p in params], float(metadata["max_norm"]))
    result = {"total_norm": total.detach().to(torch.float64).reshape(())}
    for name, p in params:
        if p.grad is not None:
            result["grad:" + name] = p.grad
    return result


def run_case(source, destination):
    tensors, metadata = read_safetensors(source)
    mode = metadata["mode"]
    if mode == "optimizer":
        result = run_optimizer(tensors, metadata)
    elif mode == "schedule":
        result = run_schedule(metadata)
    elif mode == "clip":
        result = run_clip(tensors, metadata)
    else:
        raise SystemExit(f"optim_reference.py: unknown mode {mode!r}")
    write_safetensors(destination, result)


def main(paths):
    if len(paths) < 2 or len(paths) % 2:
        raise SystemExit("usage: optim_reference.py INPUT OUTPUT [INPUT OUTPUT ...]")
    warnings.simplefilter("ignore")  # torch warns about scheduler.step() without a real training step
    for source, destination in zip(paths[::2], paths[1::2]):
        run_case(source, destination)


if __name__ == "__main__":
    main(sys.argv[1:])
