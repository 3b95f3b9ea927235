#pragma once
// Expects `fn` to throw graft::Error whose message names `op` and contains `fragment`.
#include <functional>
#include <string>

namespace graft::testing {

void expect_error(const std::function<void()>& fn, const std::string& op, const std::string& fragment);

}  // namespace graft::testing
