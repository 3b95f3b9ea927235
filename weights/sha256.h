#pragma once
// SHA-256 (FIPS 180-4) of a file or a buffer, as lowercase hex: checksums of downloaded weights.
#include <cstddef>
#include <cstdint>
#include <string>

namespace graft::weights {

std::string sha256_hex(const void* data, size_t size);
// Streams the file; an Error names the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace graft::weights
