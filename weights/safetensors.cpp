#include "weights/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "weights/json.h"
#include "weights/mapped_file.h"

namespace graft::safetensors {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

const char* dtype_code(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
  }
  return "?";
}

DType parse_dtype(const std::string& code, const std::string& path, const std::string& name) {
  for (DType d : {DType::f32, DType::f64, DType::i64, DType::bf16, DType::f16}) {
    if (code == dtype_code(d)) return d;
  }
  fail(path, ": tensor '", name, "' has dtype ", code,
       " which graft does not support (supported: F32, F64, I64, BF16, F16)");
}


}  // namespace

const Tensor& File::at(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
  }
  std::string some;
  for (size_t i = 0; i < tensors.size() && i < 5; ++i) some += (i ? ", " : "") + tensors[i].first;
  fail("safetensors: no tensor named '", name, "' (the file has ", tensors.size(), " tensors: ", some,
       tensors.size() > 5 ? ", ..." : "", ")");
}

bool File::contains(const std::string& name) const {
  for (const auto& entry : tensors) {
    if (entry.first == name) return true;
  }
  return false;
}

File read(const std::string& path) {
  const std::shared_ptr<weights::MappedFile> mapped = weights::MappedFile::open(path);
  const std::shared_ptr<Storage> mapping = mapped->storage(0, mapped->size());  // Storage::read reads the file
  const size_t size = mapped->size();
  const unsigned char* bytes = mapped->bytes();
  GRAFT_CHECK(size >= 8, path, ": truncated safetensors file (", size, " bytes; the 8-byte header length is missing)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  GRAFT_CHECK(header_len <= kMaxHeaderBytes, path, ": header length ", header_len,
              " is implausible; this is not a safetensors file");
  GRAFT_CHECK(8 + header_len <= size, path, ": truncated safetensors file: the header needs ", header_len,
              " bytes but only ", size - 8, " follow");
  const std::string header(reinterpret_cast<const char*>(bytes + 8), header_len);
  json::Value root;
  try {
    root = json::parse(header);
  } catch (const Error& e) {
    fail(path, ": corrupt safetensors header: ", e.what());
  }
  GRAFT_CHECK(root.is_object(), path, ": corrupt safetensors header: not a JSON object");
  const size_t data_start = 8 + header_len;
  const size_t data_size = size - data_start;

  File file;
  std::vector<std::pair<size_t, std::pair<std::string, Tensor>>> by_offset;
  for (const auto& [name, entry] : root.object("header")) {
    if (name == "__metadata__") {
      for (const auto& [key, value] : entry.object("__metadata__")) file.metadata[key] = value.string("metadata value");
      continue;
    }
    try {
      const json::Object& info = entry.object("tensor entry");
      const DType dtype = parse_dtype(info.at("dtype").string("dtype"), path, name);
      Shape shape;
      for (const json::Value& d : info.at("shape").array("shape")) {
        shape.push_back(d.integer("shape entry"));
        GRAFT_CHECK(shape.back() >= 0, "negative size in shape");
      }
      const json::Array& offsets = info.at("data_offsets").array("data_offsets");
      GRAFT_CHECK(offsets.size() == 2, "data_offsets must hold two numbers");
      const int64_t begin = offsets[0].integer("data offset"), end = offsets[1].integer("data offset");
      const int64_t expected = shape_numel(shape) * static_cast<int64_t>(dtype_size(dtype));
      GRAFT_CHECK(begin >= 0 && end >= begin && end - begin == expected, "data_offsets [", begin, ", ", end,
                  ") hold ", end - begin, " bytes but shape ", shape_str(shape), " of ",
                  dtype_name(dtype), " needs ", expected);
      GRAFT_CHECK(static_cast<size_t>(end) <= data_size, "the data ends at byte ", data_start + end,
                  " but the file has only ", size, " bytes (truncated file)");
      Tensor t;
      const size_t absolute = data_start + static_cast<size_t>(begin);
      if (absolute % dtype_size(dtype) == 0) {
        auto impl = std::make_shared<TensorImpl>();
        impl->storage = mapping;
        impl->offset = static_cast<int64_t>(absolute / dtype_size(dtype));
        impl->shape = shape;
        impl->strides = contiguous_strides(shape);
        impl->dtype = dtype;
        t = Tensor(std::move(impl));
      } else {  // unaligned data: copy it out
        t = Tensor::empty(shape, dtype);
        if (expected > 0) std::memcpy(t.raw_data(), bytes + absolute, static_cast<size_t>(expected));
      }
      by_offset.push_back({static_cast<size_t>(begin), {name, t}});
    } catch (const std::out_of_range&) {
      fail(path, ": tensor '", name, "': header entry lacks dtype, shape or data_offsets");
    } catch (const Error& e) {
      if (std::string(e.what()).rfind(path, 0) == 0) throw;
      fail(path, ": tensor '", name, "': ", e.what());
    }
  }
  std::stable_sort(by_offset.begin(), by_offset.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& entry : by_offset) file.tensors.push_back(std::move(entry.second));
  return file;
}

void write(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
           const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      header += (first ? "" : ",") + json::quote(k) + ":" + json::quote(v);
      first = false;
    }
    header += "}";
  }
  std::vector<Tensor> contiguous;
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    GRAFT_CHECK(t.defined(), "safetensors::write: tensor '", name, "' is undefined");
    GRAFT_CHECK(name != "__metadata__", "safetensors::write: '__metadata__' is reserved and cannot name a tensor");
    Tensor c = t.detach().to(Device::cpu()).contiguous();
    const int64_t bytes = c.numel() * static_cast<int64_t>(dtype_size(c.dtype()));
    std::string shape = "[";
    for (int64_t i = 0; i < c.dim(); ++i) shape += (i ? "," : "") + std::to_string(c.size(i));
    shape += "]";
    header += (header.size() > 1 ? "," : "") + json::quote(name) + ":{\"dtype\":\"" + dtype_code(c.dtype()) +
              "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
    contiguous.push_back(c);
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';  // align the data to 8 bytes

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  GRAFT_CHECK(f, "safetensors::write: cannot create ", tmp, ": ", std::strerror(errno));
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
  for (const Tensor& c : contiguous) {
    const size_t bytes = c.numel() * dtype_size(c.dtype());
    ok = ok && (bytes == 0 || std::fwrite(c.raw_data(), 1, bytes, f) == bytes);
  }
  ok = (std::fflush(f) == 0) && ok;
  ok = (::fsync(::fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    fail("safetensors::write: could not write ", path, ": ", std::strerror(err), " (disk full or not writable?)");
  }
}

}  // namespace graft::safetensors
