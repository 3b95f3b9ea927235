#pragma once
// Small image files for tests that need a folder of images: PNGs with a seeded pattern, written
// with stb_image_write, so tests do not depend on Python to build their data.
#include <cstdint>
#include <string>

namespace graft::testing {

// An RGB PNG of height x width pixels whose content is a pattern drawn from `seed`.
void write_test_png(const std::string& path, int64_t height, int64_t width, uint64_t seed);

// root/<class>/<i>.png for `classes` classes of `per_class` images each (class names "class_0", ...).
void write_test_image_folder(const std::string& root, int64_t classes, int64_t per_class, int64_t size,
                             uint64_t seed = 0);

}  // namespace graft::testing
