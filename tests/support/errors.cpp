#include "tests/support/errors.h"

#include "core/error.h"
#include "gtest/gtest.h"

namespace graft::testing {

void expect_error(const std::function<void()>& fn, const std::string& op, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one from " << op << " mentioning '" << fragment << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(op), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

}  // namespace graft::testing
