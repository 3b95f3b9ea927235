#pragma once
// The weights cache and its download path: files are fetched with curl into
// $GRAFT_HOME/weights (default ~/.cache/graft/weights), checked against their SHA-256 prefix,
// and renamed into place only when complete and correct, so no partial file is ever left behind.
#include <string>

#include "weights/registry.h"

namespace graft::weights {

// $GRAFT_HOME, or ~/.cache/graft.
std::string cache_dir();
// Where `w` lives in the cache.
std::string cached_path(const PublishedWeights& w);

// Downloads `url` to `destination` (atomically) and checks that the file's SHA-256 starts with
// `sha256_prefix` (empty: no check). Any failure removes the partial download and raises an Error
// that names the URL and says where to put the file by hand.
void download(const std::string& url, const std::string& destination, const std::string& sha256_prefix);

// The cached file for `w`, downloaded first when missing. `url_override` replaces w.url (mirrors,
// tests). Progress and results go to stderr unless quiet.
std::string fetch(const PublishedWeights& w, const std::string& url_override = "", bool quiet = false);

struct Verification {
  std::string sha256;
  const PublishedWeights* known = nullptr;  // the registry entry matching the file name, if any
  bool matches = false;                     // the checksum starts with the entry's prefix
};
// Checksums a file and compares it with the registry entry of the same file name.
Verification verify(const std::string& path);

}  // namespace graft::weights
