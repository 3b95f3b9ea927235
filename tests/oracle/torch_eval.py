#!/usr/bin/python3
"""Evaluates one PyTorch expression for graft's parity tests.

Usage: torch_eval.py INPUT.safetensors OUTPUT.safetensors

INPUT holds named tensors and the metadata "expression" (Python, evaluated with the tensors bound
to their names, plus `torch` and `F` = torch.nn.functional) and "requires_grad" (comma-separated
names). An optional tensor "__grad_output__" is backpropagated through the result.
OUTPUT receives "output", "grad:<name>" for each input that got a gradient, and "final:<name>"
for every input's value afterwards (ops such as batch_norm update their inputs in place).
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F  # noqa: F401  (used by the evaluated expressions)

CODES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64,
         "BF16": torch.bfloat16, "F16": torch.float16}
NAMES = {v: k for k, v in CODES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = blob[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = CODES[info["dtype"]]
        if end > begin:
            flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype)
        else:
            flat = torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"]).clone()
    return tensors, metadata


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().cpu().numpy().tobytes() if t.dtype != torch.bfloat16 \
            else t.detach().contiguous().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)


def main(source, destination):
    torch.manual_seed(0)
    tensors, metadata = read_safetensors(source)
    upstream = tensors.pop("__grad_output__", None)
    wants_grad = [n for n in metadata.get("requires_grad", "").split(",") if n]
    env = {"torch": torch, "F": F}
    for name, t in tensors.items():
        if name in wants_grad:
            t.requires_grad_(True)
        env[name] = t
    output = eval(metadata["expression"], env)  # the test's own expression
    result = {"output": output.detach()}
    if upstream is not None and output.requires_grad:
        output.backward(upstream)
    for name in wants_grad:
        if tensors[name].grad is not None:
            result["grad:" + name] = tensors[name].grad
    for name, t in tensors.items():
        result["final:" + name] = t.detach()
    write_safetensors(destination, result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
