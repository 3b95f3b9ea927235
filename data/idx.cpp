#include "data/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace graft::data {
namespace {

// Reads the IDX header (magic, dimension sizes) and the first `count` items' bytes.
class IdxFile {
 public:
  explicit IdxFile(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb"), gzclose) {
    GRAFT_CHECK(file_ != nullptr, path, ": cannot open: ", std::strerror(errno));
  }

  std::vector<int64_t> header(int expected_dims) {
    const uint32_t magic = read_u32("magic number");
    GRAFT_CHECK((magic >> 8) == 0x08 && static_cast<int>(magic & 0xff) == expected_dims, path_,
                ": bad magic number 0x", std::hex, magic, std::dec, "; expected an unsigned-byte IDX file with ",
                expected_dims, " dimension(s) (0x0000080", expected_dims, ")");
    std::vector<int64_t> dims;
    for (int i = 0; i < expected_dims; ++i) dims.push_back(read_u32("dimension size"));
    return dims;
  }

  std::vector<uint8_t> bytes(size_t count) {
    std::vector<uint8_t> out(count);
    size_t done = 0;
    while (done < count) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(count - done, 1u << 30));
      const int n = gzread(file_.get(), out.data() + done, chunk);
      GRAFT_CHECK(n > 0, path_, ": truncated or corrupt IDX file: expected ", count, " data bytes, got ", done);
      done += static_cast<size_t>(n);
    }
    return out;
  }

 private:
  uint32_t read_u32(const char* what) {
    unsigned char b[4];
    GRAFT_CHECK(gzread(file_.get(), b, 4) == 4, path_, ": truncated IDX file while reading the ", what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }

  std::string path_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file_;
};

int64_t take(int64_t available, int64_t limit) { return limit > 0 ? std::min(available, limit) : available; }

}  // namespace

Tensor read_idx_images(const std::string& path, int64_t limit) {
  IdxFile file(path);
  const std::vector<int64_t> dims = file.header(3);
  const int64_t n = take(dims[0], limit), rows = dims[1], cols = dims[2];
  const std::vector<uint8_t> raw = file.bytes(static_cast<size_t>(n * rows * cols));
  Tensor images = Tensor::empty({n, 1, rows, cols});
  float* p = images.data<float>();
  for (size_t i = 0; i < raw.size(); ++i) p[i] = static_cast<float>(raw[i]) / 255.0f;
  return images;
}

Tensor read_idx_labels(const std::string& path, int64_t limit) {
  IdxFile file(path);
  const int64_t n = take(file.header(1)[0], limit);
  const std::vector<uint8_t> raw = file.bytes(static_cast<size_t>(n));
  Tensor labels = Tensor::empty({n}, DType::i64);
  int64_t* p = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = raw[i];
  return labels;
}

}  // namespace graft::data
