#!/usr/bin/python3
"""Writes the .pth fixtures for tests/weights/pth_test.cpp.

Usage: make_pth_fixtures.py OUTPUT_DIR

One state dict (every dtype, a transposed tensor, slices with storage offsets, tensors sharing a
storage, a Parameter, an int64 buffer, a 0-dim and an empty tensor) is written in every layout:
  zip.pth            torch.save (torch >= 1.6 layout)
  zip_protocol4.pth  torch.save(..., pickle_protocol=4): FRAME, STACK_GLOBAL, MEMOIZE
  legacy.pth         torch.save(..., _use_new_zipfile_serialization=False)
  tar.pth            the torch <= 0.3 tar layout, written here (torch 1.13 cannot write it) and
                     checked with torch.load, which still reads it
  repacked.pth       zip.pth's entries rewritten by Python's zipfile: no alignment, no descriptors
  no_directory.pth   zip.pth without its central directory (entries found from local headers)
  compressed.pth     zip.pth's entries deflated (graft refuses these)
expected_state.safetensors / .json hold each tensor's values (ints narrower than 64 bits as int64)
and its dtype, shape, strides and storage offset. nested.pth (a training checkpoint: dicts, lists,
non-tensor values) comes with expected_nested.*. evil_system.pth and evil_eval.pth are zip
checkpoints whose data.pkl calls os.system / builtins.eval.
"""
import collections
import copyreg
import io
import json
import os
import pickle
import struct
import sys
import tarfile
import zipfile

import torch

SAFETENSORS_CODES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
                     torch.bfloat16: "BF16", torch.int64: "I64"}
TYPE_NAMES = {torch.float32: "Float", torch.float64: "Double", torch.float16: "Half",
              torch.bfloat16: "BFloat16", torch.int64: "Long", torch.int32: "Int",
              torch.int16: "Short", torch.int8: "Char", torch.uint8: "Byte", torch.bool: "Bool"}


def state_dict():
    torch.manual_seed(0)
    base = torch.randn(6, 5)
    shared = torch.randn(8)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4)
    sd["f64"] = torch.randn(2, 3, dtype=torch.float64)
    sd["f16"] = torch.randn(5).half()
    sd["bf16"] = torch.randn(2, 2).bfloat16()
    sd["i64"] = torch.tensor([-(2 ** 62), -1, 0, 7, 2 ** 62 + 12345])
    sd["i32"] = torch.tensor([-(2 ** 31), -1, 0, 2 ** 31 - 1], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 1, 200, 255], dtype=torch.uint8)
    sd["flags"] = torch.tensor([True, False, True])
    sd["num_batches_tracked"] = torch.tensor(12345)  # 0-dim int64 buffer
    sd["special"] = torch.tensor([float("inf"), -float("inf"), -0.0, 1e-45, 3.4e38])
    sd["transposed"] = torch.randn(4, 5).t()
    sd["base"] = base
    sd["sliced"] = base[2:5]  # storage offset 10 into base's storage
    sd["column"] = base[:, 1]  # offset 1, stride 5
    sd["shared_a"] = shared
    sd["shared_b"] = shared.view(2, 4)[1:]
    sd["param"] = torch.nn.Parameter(torch.randn(3, 2))
    sd["empty"] = torch.zeros(0, 3)
    return sd


def nested_checkpoint():
    torch.manual_seed(1)
    model = collections.OrderedDict([("conv.weight", torch.randn(2, 1, 3, 3)), ("conv.bias", torch.randn(2))])
    return {"epoch": 7, "arch": "tiny", "model": model,
            "history": [torch.tensor(1.5), torch.tensor(2.5)],
            "optimizer": {"state": {0: {"momentum_buffer": torch.randn(2)}},
                          "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
            "best": None}


def flat_tensors(obj, prefix=""):
    """The (dotted name, tensor) pairs graft's loader should return, in order."""
    if isinstance(obj, torch.Tensor):
        return [(prefix, obj)]
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else []
    out = []
    for key, value in items:
        out += flat_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def write_expected(stem, pairs):
    header, chunks, offset, info = {}, [], 0, {}
    for name, t in pairs:
        t = t.detach()
        info[name] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                      "strides": list(t.stride()), "offset": t.storage_offset()}
        values = t.contiguous() if t.dtype in SAFETENSORS_CODES else t.to(torch.int64).contiguous()
        raw = values.reshape(-1).view(torch.uint8).numpy().tobytes() if values.numel() else b""
        header[name] = {"dtype": SAFETENSORS_CODES[values.dtype], "shape": list(values.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(stem + ".safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    with open(stem + ".json", "w") as f:
        json.dump({"order": [name for name, _ in pairs], "tensors": info}, f)


def storage_bytes(t):
    whole = torch.tensor([], dtype=t.dtype).set_(t.storage())
    return whole.view(torch.uint8).numpy().tobytes() if whole.numel() else b"", whole.numel()


class TarPickler(pickle.Pickler):
    """Pickles like torch 0.3: tensors as persistent ids (their key as a str), a Parameter as
    NEWOBJ Parameter() then BUILD (data, grad, backward hooks, requires_grad, volatile)."""

    def __init__(self, f, keys, param_data):
        super().__init__(f, protocol=2)
        self.keys, self.param_data = keys, param_data

    def persistent_id(self, obj):
        if isinstance(obj, torch.Tensor) and not isinstance(obj, torch.nn.Parameter):
            return str(self.keys[id(obj)])
        return None

    def reducer_override(self, obj):
        if isinstance(obj, torch.nn.Parameter):
            return copyreg.__newobj__, (torch.nn.Parameter,), (self.param_data[id(obj)], None, None, True, False)
        return NotImplemented


def tar_checkpoint(sd, storage_view_of=None):
    """The torch <= 0.3 layout (see legacy_load in torch/serialization.py). The tensor named
    `storage_view_of`, if any, goes through a storage view that starts at element 1, as torch 0.3
    could write."""
    dumps = lambda obj: pickle.dumps(obj, protocol=2)  # noqa: E731
    param_data, keys, records, storages = {}, {}, [], collections.OrderedDict()
    for i, value in enumerate(sd.values()):
        t = param_data.setdefault(id(value), value.data) if isinstance(value, torch.nn.Parameter) else value
        storage_key, _ = storages.setdefault(t.storage().data_ptr(), (100 + len(storages), t))
        keys[id(t)] = 500 + i
        records.append([500 + i, storage_key, t, t.storage_offset()])
    views = []
    if storage_view_of is not None:
        view_key = 999
        viewed = next(r for r in records if r[2] is sd[storage_view_of])
        views = [(view_key, viewed[1], 1, viewed[2].storage().size() - 1)]
        viewed[1], viewed[3] = view_key, viewed[3] - 1

    tensors = io.BytesIO()
    tensors.write(dumps(len(records)))
    for key, storage_key, t, offset in records:
        tensors.write(dumps((key, storage_key, getattr(torch, TYPE_NAMES[t.dtype] + "Tensor"))))
        tensors.write(struct.pack("<i", t.dim()) + b"\x07\x00\x00\x00")  # the unused half, as in 2017 files
        tensors.write(struct.pack(f"<{t.dim()}q", *t.shape) + struct.pack(f"<{t.dim()}q", *t.stride()))
        tensors.write(struct.pack("<q", offset))
    storage_member = io.BytesIO()
    storage_member.write(dumps(len(storages)))
    for key, t in storages.values():
        raw, numel = storage_bytes(t)
        storage_member.write(dumps((key, "cpu", getattr(torch, TYPE_NAMES[t.dtype] + "Storage"))))
        storage_member.write(struct.pack("<q", numel) + raw)
    storage_member.write(dumps(views))
    main = io.BytesIO()
    TarPickler(main, keys, param_data).dump(sd)
    sys_info = dumps(dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4)))

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [("sys_info", sys_info), ("pickle", main.getvalue()),
                           ("tensors", tensors.getvalue()), ("storages", storage_member.getvalue())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1483719550.98166  # a fractional mtime makes a pax header, as in the published files
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def repack(source, destination, compression):
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(destination, "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))


def without_central_directory(source, destination):
    with open(source, "rb") as f:
        blob = f.read()
    end = blob.rfind(b"PK\x05\x06")
    (directory_offset,) = struct.unpack("<I", blob[end + 16:end + 20])
    with open(destination, "wb") as f:
        f.write(blob[:directory_offset])


def check_same(name, loaded, expected):
    assert list(loaded.keys()) == list(expected.keys()), name
    for key, want in expected.items():
        got = loaded[key]
        assert got.dtype == want.dtype and got.shape == want.shape and got.stride() == want.stride(), (name, key)
        assert torch.equal(got.detach(), want.detach()), (name, key)


class Exploit:
    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def evil_zip(path, payload):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    at = lambda name: os.path.join(out_dir, name)  # noqa: E731
    sd = state_dict()
    torch.save(sd, at("zip.pth"))
    torch.save(sd, at("zip_protocol4.pth"), pickle_protocol=4)
    torch.save(sd, at("legacy.pth"), _use_new_zipfile_serialization=False)
    with open(at("tar.pth"), "wb") as f:
        f.write(tar_checkpoint(sd, storage_view_of="column"))
    repack(at("zip.pth"), at("repacked.pth"), zipfile.ZIP_STORED)
    repack(at("zip.pth"), at("compressed.pth"), zipfile.ZIP_DEFLATED)
    without_central_directory(at("zip.pth"), at("no_directory.pth"))
    for name in ["zip.pth", "zip_protocol4.pth", "legacy.pth", "tar.pth", "repacked.pth"]:
        check_same(name, torch.load(at(name)), sd)
    write_expected(at("expected_state"), flat_tensors(sd))

    nested = nested_checkpoint()
    torch.save(nested, at("nested.pth"))
    write_expected(at("expected_nested"), flat_tensors(nested))

    evil_zip(at("evil_system.pth"), pickle.dumps(Exploit(os.system, "echo graft-was-exploited"), protocol=2))
    evil_zip(at("evil_eval.pth"), pickle.dumps(Exploit(eval, "print('graft-was-exploited')"), protocol=4))


if __name__ == "__main__":
    main(sys.argv[1])
