// Learning-rate schedules against torch.optim.lr_scheduler driven the same way (per-batch
// schedulers after every optimizer step, per-epoch ones at each epoch end): every schedule, alone
// and composed with the LinearLR warmup (one run of the oracle computes torch's sequences for all
// cases); resuming from a state dict; spec parsing and its errors.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <cmath>
#include <memory>
#include <optional>
#include <ostream>

#include "gtest/gtest.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/schedules.h"
#include "tests/nn/optim/optim_oracle.h"
#include "tests/support/errors.h"
#include "tests/support/torch_oracle.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

using testing::expect_error;
using Records = std::vector<std::vector<double>>;  // [record][setting]: each group's lr, then its momentum

constexpr int64_t kEpochs = 6;
constexpr int64_t kStepsPerEpoch = 3;
const std::vector<double> kLrs = {0.1, 0.02};
constexpr double kMomentum = 0.9;
// Validation losses: no improvement at epochs 2-3 and 5-6.
const std::vector<double> kMetrics = {1.0, 1.0, 1.0, 0.5, 0.6, 0.7};

std::vector<nn::ParamGroup> make_groups() {
  std::vector<nn::ParamGroup> groups;
  for (size_t g = 0; g < kLrs.size(); ++g) {
    const std::string index = std::to_string(g);
    groups.push_back({.name = "group" + index, .params = {{"p" + index, Tensor::zeros({1})}}, .lr = kLrs[g]});
  }
  return groups;
}

std::unique_ptr<nn::Sgd> make_optimizer(double momentum = kMomentum) {
  return std::make_unique<nn::Sgd>(make_groups(), nn::SgdOptions{.momentum = momentum});
}

std::vector<double> lrs_of(const nn::Optimizer& optimizer) {
  std::vector<double> out;
  for (const nn::ParamGroup& group : optimizer.groups()) out.push_back(group.lr);
  return out;
}

// Each group's lr, then each group's momentum (one value for all groups in graft, one per group in torch).
std::vector<double> settings_of(const nn::Optimizer& optimizer) {
  std::vector<double> out = lrs_of(optimizer);
  out.insert(out.end(), optimizer.groups().size(), optimizer.cycled_momentum().value_or(0));
  return out;
}

// Drives epochs [first, last) as the training loop does, recording the settings after every call.
void drive(nn::LrSchedule& schedule, const nn::Optimizer& optimizer, int64_t first, int64_t last, Records& records) {
  for (int64_t epoch = first; epoch < last; ++epoch) {
    for (int64_t step = 0; step < kStepsPerEpoch; ++step) {
      schedule.on_step();
      records.push_back(settings_of(optimizer));
    }
    schedule.on_epoch_end(kMetrics[epoch]);
    records.push_back(settings_of(optimizer));
  }
}

struct Case {
  std::string label;             // the test's name
  std::string spec;              // make_schedule's spec
  int64_t warmup_steps;          // with start factor 0.1
  std::string torch_schedulers;  // the same in torch: a list of (when, scheduler)
};

const std::string kWarmup = "('step', lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=";

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"ConstantWithWarmup", "constant", 5, "[" + kWarmup + "5))]"},
      {"StepWithWarmupAcrossAnEpochEnd", "step:2:0.5", 4,
       "[('epoch', lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)), " + kWarmup + "4))]"},
      {"StepAlone", "step:4", 0, "[('epoch', lr_scheduler.StepLR(opt, step_size=4))]"},
      {"MultiStepWithWarmup", "multistep:2,4:0.3", 7,
       "[('epoch', lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.3)), " + kWarmup + "7))]"},
      {"CosineWithWarmup", "cosine", 5, "[('epoch', lr_scheduler.CosineAnnealingLR(opt, T_max=6)), " + kWarmup + "5))]"},
      {"CosineToEtaMin", "cosine:0.001", 0, "[('epoch', lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.001))]"},
      {"OneCycleCyclingMomentum", "onecycle", 0,
       "[('step', lr_scheduler.OneCycleLR(opt, max_lr=[0.1, 0.02], total_steps=18))]"},
      {"OneCycleLrOnlyWithPeakFactor", "onecycle:3:lr-only", 0,
       "[('step', lr_scheduler.OneCycleLR(opt, max_lr=[0.3, 0.06], total_steps=18, cycle_momentum=False))]"},
      {"PlateauWithWarmup", "plateau:1:0.5", 4,
       "[('epoch', lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)), " + kWarmup + "4))]"},
  };
  return all;
}

// torch's lr sequences for every case, from one run of the oracle on first use; null if it failed.
const std::vector<safetensors::File>* torch_sequences() {
  static const std::optional<std::vector<safetensors::File>> sequences = [] {
    std::string metrics;
    for (double m : kMetrics) metrics += (metrics.empty() ? "" : ",") + testing::py(m);
    std::vector<testing::OracleCase> oracle_cases;
    for (const Case& c : cases()) {
      oracle_cases.push_back({.tensors = {},
                              .metadata = {{"mode", "schedule"},
                                           {"lrs", testing::py(kLrs[0]) + "," + testing::py(kLrs[1])},
                                           {"momentum", testing::py(kMomentum)},
                                           {"schedulers", c.torch_schedulers},
                                           {"epochs", std::to_string(kEpochs)},
                                           {"steps_per_epoch", std::to_string(kStepsPerEpoch)},
                                           {"metrics", metrics}}});
    }
    return testing::run_optim_reference(oracle_cases);
  }();
  return sequences ? &*sequences : nullptr;
}

// gtest names a failing case by its label rather than by its bytes.
void PrintTo(const Case& c, std::ostream* out) { *out << c.label; }

class LrScheduleParity : public ::testing::TestWithParam<Case> {};

TEST_P(LrScheduleParity, SetsTorchsLrAndMomentumAfterEveryCall) {
  GRAFT_REQUIRE_TORCH();
  const Case& c = GetParam();
  const std::vector<safetensors::File>* sequences = torch_sequences();
  ASSERT_NE(sequences, nullptr) << "the oracle failed (see the first failure)";
  size_t index = 0;
  while (cases()[index].label != c.label) ++index;
  const std::vector<double> lrs = (*sequences)[index].at("lrs").to_vector<double>();
  const std::vector<double> momenta = (*sequences)[index].at("momenta").to_vector<double>();

  auto optimizer = make_optimizer();
  auto schedule = nn::make_schedule(c.spec, *optimizer, kStepsPerEpoch, kEpochs, c.warmup_steps, 0.1);
  Records records = {settings_of(*optimizer)};
  drive(*schedule, *optimizer, 0, kEpochs, records);
  const size_t groups = kLrs.size();
  ASSERT_EQ(records.size() * groups, lrs.size());
  ASSERT_EQ(momenta.size(), lrs.size());
  for (size_t r = 0; r < records.size(); ++r) {
    for (size_t g = 0; g < groups; ++g) {
      const double lr = lrs[r * groups + g], momentum = momenta[r * groups + g];
      EXPECT_NEAR(records[r][g], lr, 1e-12 * std::abs(lr) + 1e-18) << "lr, record " << r << ", group " << g;
      EXPECT_NEAR(records[r][groups + g], momentum, 1e-12) << "momentum, record " << r << ", group " << g;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Torch, LrScheduleParity, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.label; });

// Runs all epochs straight, and again with a save after `split` epochs and a load into a new
// optimizer and schedule; the lrs after the split must be bitwise the same.
void expect_resume_is_bit_identical(const std::string& spec, int64_t warmup_steps, int64_t split) {
  auto straight_optimizer = make_optimizer();
  auto straight = nn::make_schedule(spec, *straight_optimizer, kStepsPerEpoch, kEpochs, warmup_steps);
  Records straight_records;
  drive(*straight, *straight_optimizer, 0, kEpochs, straight_records);

  auto first_optimizer = make_optimizer();
  auto first = nn::make_schedule(spec, *first_optimizer, kStepsPerEpoch, kEpochs, warmup_steps);
  Records records;
  drive(*first, *first_optimizer, 0, split, records);
  const std::string path = (std::filesystem::temp_directory_path() / "graft_schedule_state.safetensors").string();
  safetensors::write(path, first->state_dict());

  auto second_optimizer = make_optimizer();
  auto second = nn::make_schedule(spec, *second_optimizer, kStepsPerEpoch, kEpochs, warmup_steps);
  second->load_state_dict(safetensors::read(path).tensors);
  std::filesystem::remove(path);
  EXPECT_EQ(settings_of(*second_optimizer), records.back()) << spec;
  drive(*second, *second_optimizer, split, kEpochs, records);
  EXPECT_EQ(records, straight_records) << spec;
}

TEST(LrScheduleState, ResumeIsBitIdentical) {
  expect_resume_is_bit_identical("plateau:1:0.5", 4, 3);
  expect_resume_is_bit_identical("onecycle", 0, 2);
  expect_resume_is_bit_identical("cosine", 8, 1);
  expect_resume_is_bit_identical("multistep:1,3", 2, 2);
}

TEST(LrScheduleState, StateNamesAndMismatches) {
  auto optimizer = make_optimizer();
  auto plateau = nn::make_schedule("plateau", *optimizer, kStepsPerEpoch, kEpochs);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : plateau->state_dict()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"schedule.steps", "schedule.epochs", "schedule.plateau.best",
                                             "schedule.plateau.bad_epochs", "schedule.plateau.scale.group0",
                                             "schedule.plateau.scale.group1"}));
  auto step = nn::make_schedule("step:3", *optimizer, kStepsPerEpoch, kEpochs);
  expect_error([&] { plateau->load_state_dict(step->state_dict()); }, "LrSchedule.load_state_dict",
               "'schedule.plateau.best' is missing");
  expect_error([&] { step->load_state_dict(plateau->state_dict()); }, "LrSchedule.load_state_dict",
               "'schedule.plateau.best' is unexpected");
  nn::StateDict wrong_kind = step->state_dict();
  wrong_kind[0].second = Tensor::scalar(3.0, DType::f64);
  expect_error([&] { step->load_state_dict(wrong_kind); }, "LrSchedule.load_state_dict",
               "'schedule.steps' is float64 [], not int64 []");
}

TEST(LrSchedule, ConstructionSetsTheFirstLrAndWarmupEnds) {
  auto optimizer = make_optimizer();
  auto schedule = nn::make_schedule("constant", *optimizer, kStepsPerEpoch, kEpochs, 4);
  EXPECT_DOUBLE_EQ(optimizer->groups()[0].lr, 0.1 * 0.01);  // default start factor: 1%
  for (int i = 0; i < 4; ++i) schedule->on_step();
  EXPECT_EQ(lrs_of(*optimizer), kLrs);
  schedule->on_step();
  EXPECT_EQ(lrs_of(*optimizer), kLrs);
  EXPECT_EQ(schedule->steps(), 5);
  EXPECT_EQ(schedule->warmup_factor(), 1.0);
}

TEST(LrSchedule, OneCycleCyclesAdamsBeta1AsSgdsMomentum) {
  auto sgd = make_optimizer();
  nn::Adam adam(make_groups(), {.beta1 = 0.5});
  auto sgd_schedule = nn::make_schedule("onecycle", *sgd, kStepsPerEpoch, kEpochs);
  auto adam_schedule = nn::make_schedule("onecycle", adam, kStepsPerEpoch, kEpochs);
  EXPECT_EQ(adam.options().beta1, 0.95);  // torch starts at max_momentum, whatever beta1 was
  std::vector<double> seen;
  for (int64_t step = 1; step < kEpochs * kStepsPerEpoch; ++step) {  // up to the last step's update
    sgd_schedule->on_step();
    adam_schedule->on_step();
    EXPECT_EQ(adam.options().beta1, sgd->options().momentum) << "step " << step;
    seen.push_back(adam.options().beta1);
  }
  // Down toward 0.85 while the lr warms up (its peak falls between steps), then back toward 0.95.
  const auto lowest = std::min_element(seen.begin(), seen.end());
  EXPECT_TRUE(*lowest > 0.85 && *lowest < 0.851) << *lowest;
  EXPECT_TRUE(std::is_sorted(seen.begin(), lowest, std::greater<>()));
  EXPECT_TRUE(std::is_sorted(lowest, seen.end()));
  EXPECT_EQ(seen.back(), 0.95);
  EXPECT_EQ(adam.options().beta2, 0.999);
}

TEST(LrSchedule, OneCycleNeedsMomentumUnlessLrOnly) {
  auto plain = make_optimizer(0);
  for (const char* fragment : {"SGD has no momentum to cycle", "(--momentum 0.9)", "'onecycle:2:lr-only'"}) {
    expect_error([&] { nn::make_schedule("onecycle:2", *plain, kStepsPerEpoch, kEpochs); }, "OneCycleLr", fragment);
  }
  auto lr_only = nn::make_schedule("onecycle:2:lr-only", *plain, kStepsPerEpoch, kEpochs);
  lr_only->on_step();
  EXPECT_EQ(plain->options().momentum, 0);
  EXPECT_FALSE(plain->cycled_momentum().has_value());
  expect_error([&] { plain->set_cycled_momentum(0.9); }, "SGD", "built without momentum");
}

// The momentum a schedule sets is the one the next update uses: buf = m * buf + grad.
TEST(LrSchedule, ASetMomentumDrivesTheNextUpdate) {
  Tensor p = Tensor::zeros({1});
  nn::Sgd sgd({{.name = "all", .params = {{"p", p}}, .lr = 1}}, {.momentum = 0.9});
  for (double momentum : {0.9, 0.5}) {
    sgd.set_cycled_momentum(momentum);
    p.set_grad(Tensor::ones({1}));
    sgd.step();
  }
  EXPECT_DOUBLE_EQ(p.item(), -(1.0 + (0.5 * 1.0 + 1.0)));
  expect_error([&] { sgd.set_cycled_momentum(-0.1); }, "SGD", "momentum -0.1 is invalid");
}

TEST(LrSchedule, SpecsParse) {
  const nn::ScheduleSpec step = nn::parse_schedule_spec("step:30:0.2");
  EXPECT_EQ(step.kind, nn::ScheduleSpec::Kind::step);
  EXPECT_EQ(step.step_size, 30);
  EXPECT_EQ(step.gamma, 0.2);
  const nn::ScheduleSpec multistep = nn::parse_schedule_spec("multistep:30,60");
  EXPECT_EQ(multistep.milestones, (std::vector<int64_t>{30, 60}));
  EXPECT_EQ(multistep.gamma, 0.1);
  EXPECT_EQ(nn::parse_schedule_spec("cosine:1e-5").eta_min, 1e-5);
  EXPECT_EQ(nn::parse_schedule_spec("onecycle:4").max_lr_factor, 4);
  EXPECT_TRUE(nn::parse_schedule_spec("onecycle:4").cycle_momentum);
  EXPECT_FALSE(nn::parse_schedule_spec("onecycle:4:lr-only").cycle_momentum);
  const nn::ScheduleSpec plateau = nn::parse_schedule_spec("plateau:3:0.5");
  EXPECT_EQ(plateau.patience, 3);
  EXPECT_EQ(plateau.factor, 0.5);
  EXPECT_EQ(nn::parse_schedule_spec("plateau").patience, 10);
  EXPECT_EQ(nn::parse_schedule_spec("constant").kind, nn::ScheduleSpec::Kind::constant);
}

TEST(LrSchedule, BadSpecsNameTheSpecAndListTheForms) {
  const auto bad = [](const std::string& spec, const std::string& why) {
    expect_error([&] { nn::parse_schedule_spec(spec); }, "bad schedule '" + spec + "'", why);
    expect_error([&] { nn::parse_schedule_spec(spec); }, "make_schedule", "Valid forms: constant, step:EPOCHS[:GAMMA]");
  };
  bad("linear", "unknown schedule 'linear'");
  bad("", "unknown schedule ''");
  bad("step", "'step' takes 1 to 2 ':'-separated values, got 0");
  bad("step:x", "the step size in epochs 'x' is not a whole number");
  bad("step:0", "at least 1 epoch");
  bad("step:10:-0.1", "gamma, the decay factor, must be > 0");
  bad("multistep:30,20", "increasing order");
  bad("multistep:30,,60", "the milestone epoch '' is not a whole number");
  bad("cosine:-1", "eta_min, the final lr, must be >= 0");
  bad("cosine:1:2", "'cosine' takes 0 to 1");
  bad("onecycle:0", "max_lr_factor must be > 0");
  bad("onecycle:2:fixed", "'fixed' is not 'lr-only'");
  bad("onecycle:2:lr-only:3", "'onecycle' takes 0 to 2");
  bad("plateau:2:1.5", "the factor must be in (0, 1)");
  bad("plateau:-1", "the patience must be >= 0");
  bad("constant:1", "'constant' takes 0 ':'-separated values");
}

TEST(LrSchedule, BadArgumentsAreRefused) {
  auto optimizer = make_optimizer();
  expect_error([&] { nn::make_schedule("onecycle", *optimizer, 10, 5, 100); }, "make_schedule",
               "onecycle warms up by itself");
  expect_error([&] { nn::make_schedule("cosine", *optimizer, 0, 5); }, "make_schedule", "steps per epoch is 0");
  expect_error([&] { nn::make_schedule("cosine", *optimizer, 10, 0); }, "make_schedule", "the number of epochs is 0");
  expect_error([&] { nn::make_schedule("cosine", *optimizer, 10, 5, -1); }, "LrSchedule", "warmup steps -1 is negative");
  expect_error([&] { nn::make_schedule("cosine", *optimizer, 10, 5, 10, 0.0); }, "LrSchedule",
               "warmup start factor 0 is invalid");
}

}  // namespace
}  // namespace graft
