#include "tests/support/torch_oracle.h"

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/rng.h"
#include "tests/support/compare.h"
#include "tests/support/process.h"
#include "weights/safetensors.h"

namespace graft::testing {
namespace {

std::string fresh_case_dir() {
  static int counter = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "case";
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  const std::filesystem::path dir =
      std::filesystem::path(GRAFT_ORACLE_DIR) / (name + "." + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace

bool torch_available(std::string* reason) {
  static int state = -1;  // -1 unknown, 0 missing, 1 available
  static std::string why;
  if (state < 0) {
    struct stat st {};
    std::string output;
    if (::stat(oracle_python().c_str(), &st) != 0) {
      why = "skipped: " + oracle_python() + " not found; install python3-torch (apt) to run PyTorch parity tests";
      state = 0;
    } else if (run_command(oracle_python() + " -c 'import torch'", &output) != 0) {
      why = "skipped: PyTorch is not importable by " + oracle_python() +
            "; install python3-torch (apt): " + output;
      state = 0;
    } else {
      state = 1;
    }
  }
  if (reason) *reason = why;
  return state == 1;
}

void expect_matches_torch(const Inputs& inputs, const std::string& torch_expression,
                          const std::function<Tensor(const Inputs&)>& graft_fn, Tolerance tol) {
  const std::string dir = fresh_case_dir();
  const std::string in_path = dir + "/inputs.safetensors";
  const std::string out_path = dir + "/torch.safetensors";

  // graft runs on private copies: some ops update their inputs in place.
  Inputs copies;
  std::string requires_grad;
  std::vector<std::pair<std::string, Tensor>> to_write;
  for (const auto& [name, t] : inputs) {
    Tensor copy = t.detach().clone();
    if (t.requires_grad()) {
      copy.set_requires_grad(true);
      requires_grad += (requires_grad.empty() ? "" : ",") + name;
    }
    copies[name] = copy;
    to_write.push_back({name, t.detach()});
  }

  Tensor output = graft_fn(copies);
  ASSERT_TRUE(output.defined()) << "the graft function returned an undefined tensor";
  if (output.requires_grad()) {
    Generator gen(20240611);
    Tensor upstream = randn(output.shape(), gen, output.dtype());
    to_write.push_back({"__grad_output__", upstream});
    output.backward(upstream);
  }
  safetensors::write(in_path, to_write, {{"expression", torch_expression}, {"requires_grad", requires_grad}});

  std::string log;
  const std::string script = std::string(GRAFT_SOURCE_DIR) + "/tests/oracle/torch_eval.py";
  const int status = run_command(oracle_python() + " " + script + " " + in_path + " " + out_path, &log);
  ASSERT_EQ(status, 0) << "PyTorch failed to evaluate `" << torch_expression << "`:\n" << log;

  const safetensors::File reference = safetensors::read(out_path);
  EXPECT_TRUE(all_close(output, reference.at("output"), tol.atol, tol.rtol, "output of " + torch_expression));
  for (const auto& [name, t] : inputs) {
    const std::string grad_key = "grad:" + name;
    if (t.requires_grad()) {
      const Tensor graft_grad = copies[name].grad();
      if (!reference.contains(grad_key)) {
        EXPECT_FALSE(graft_grad.defined()) << "graft computed a gradient for '" << name << "' but torch did not";
        continue;
      }
      EXPECT_TRUE(graft_grad.defined()) << "graft computed no gradient for '" << name << "'";
      if (graft_grad.defined()) {
        EXPECT_TRUE(all_close(graft_grad, reference.at(grad_key), tol.atol, tol.rtol, "gradient of " + name));
      }
    }
    EXPECT_TRUE(all_close(copies[name], reference.at("final:" + name), tol.atol, tol.rtol,
                          "final value of input " + name));
  }
}

}  // namespace graft::testing
