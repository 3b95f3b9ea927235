// parse_schedule_spec and make_schedule: from the CLI's --schedule value to a schedule.
#include <charconv>
#include <cmath>

#include "core/error.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/schedules.h"

namespace graft::nn {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    const size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

[[noreturn]] void bad_spec(const std::string& spec, const std::string& why) {
  fail("make_schedule: bad schedule '", spec, "': ", why, ". Valid forms: ", kScheduleForms);
}

int64_t parse_int(const std::string& spec, const std::string& text, const char* what) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    bad_spec(spec, concat(what, " '", text, "' is not a whole number"));
  }
  return value;
}

double parse_number(const std::string& spec, const std::string& text, const char* what) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    bad_spec(spec, concat(what, " '", text, "' is not a number"));
  }
  return value;
}

}  // namespace

ScheduleSpec parse_schedule_spec(const std::string& spec) {
  const std::vector<std::string> parts = split(spec, ':');
  const std::string& kind = parts[0];
  const size_t args = parts.size() - 1;
  const auto expect_args = [&](size_t min, size_t max) {
    if (args < min || args > max) {
      bad_spec(spec, concat("'", kind, "' takes ", min == max ? concat(min) : concat(min, " to ", max),
                            " ':'-separated value", max == 1 ? "" : "s", ", got ", args));
    }
  };
  ScheduleSpec out;
  if (kind == "constant") {
    expect_args(0, 0);
  } else if (kind == "step") {
    expect_args(1, 2);
    out.kind = ScheduleSpec::Kind::step;
    out.step_size = parse_int(spec, parts[1], "the step size in epochs");
    if (out.step_size < 1) bad_spec(spec, "the step size must be at least 1 epoch");
    if (args == 2) out.gamma = parse_number(spec, parts[2], "gamma");
  } else if (kind == "multistep") {
    expect_args(1, 2);
    out.kind = ScheduleSpec::Kind::multistep;
    for (const std::string& milestone : split(parts[1], ',')) {
      out.milestones.push_back(parse_int(spec, milestone, "the milestone epoch"));
      if (out.milestones.back() < 1 || (out.milestones.size() > 1 && out.milestones.back() <= out.milestones.end()[-2])) {
        bad_spec(spec, "milestones must be positive epochs in increasing order");
      }
    }
    if (args == 2) out.gamma = parse_number(spec, parts[2], "gamma");
  } else if (kind == "cosine") {
    expect_args(0, 1);
    out.kind = ScheduleSpec::Kind::cosine;
    if (args == 1) out.eta_min = parse_number(spec, parts[1], "eta_min");
    if (out.eta_min < 0) bad_spec(spec, "eta_min, the final lr, must be >= 0");
  } else if (kind == "onecycle") {
    expect_args(0, 2);
    out.kind = ScheduleSpec::Kind::onecycle;
    if (args >= 1) out.max_lr_factor = parse_number(spec, parts[1], "max_lr_factor");
    if (out.max_lr_factor <= 0) bad_spec(spec, "max_lr_factor must be > 0");
    if (args == 2 && parts[2] != "lr-only") {
      bad_spec(spec, concat("'", parts[2], "' is not 'lr-only', the one word that may follow max_lr_factor"));
    }
    out.cycle_momentum = args < 2;
  } else if (kind == "plateau") {
    expect_args(0, 2);
    out.kind = ScheduleSpec::Kind::plateau;
    if (args >= 1) out.patience = parse_int(spec, parts[1], "the patience in epochs");
    if (args == 2) out.factor = parse_number(spec, parts[2], "the factor");
    if (out.patience < 0) bad_spec(spec, "the patience must be >= 0 epochs");
    if (!(out.factor > 0 && out.factor < 1)) bad_spec(spec, "the factor must be in (0, 1)");
  } else {
    bad_spec(spec, concat("unknown schedule '", kind, "'"));
  }
  if ((out.kind == ScheduleSpec::Kind::step || out.kind == ScheduleSpec::Kind::multistep) && !(out.gamma > 0)) {
    bad_spec(spec, "gamma, the decay factor, must be > 0");
  }
  return out;
}

std::unique_ptr<LrSchedule> make_schedule(const ScheduleSpec& spec, Optimizer& optimizer, int64_t steps_per_epoch,
                                          int64_t epochs, Warmup warmup) {
  GRAFT_CHECK(steps_per_epoch >= 1, "make_schedule: steps per epoch is ", steps_per_epoch,
              "; it must be at least 1 (is the training set smaller than one batch?)");
  GRAFT_CHECK(epochs >= 1, "make_schedule: the number of epochs is ", epochs, "; it must be at least 1");
  using Kind = ScheduleSpec::Kind;
  switch (spec.kind) {
    case Kind::constant: return std::make_unique<LrSchedule>(optimizer, warmup);
    case Kind::step: return std::make_unique<StepLr>(optimizer, spec.step_size, spec.gamma, warmup);
    case Kind::multistep: return std::make_unique<MultiStepLr>(optimizer, spec.milestones, spec.gamma, warmup);
    case Kind::cosine: return std::make_unique<CosineAnnealingLr>(optimizer, epochs, spec.eta_min, warmup);
    case Kind::onecycle:
      GRAFT_CHECK(warmup.steps == 0, "make_schedule: onecycle warms up by itself (its first 30% of steps); "
                  "drop the warmup steps (", warmup.steps, ") or pick another schedule");
      return std::make_unique<OneCycleLr>(optimizer, steps_per_epoch * epochs, spec.max_lr_factor,
                                          spec.cycle_momentum);
    case Kind::plateau: return std::make_unique<ReduceLrOnPlateau>(optimizer, spec.patience, spec.factor, warmup);
  }
  fail("make_schedule: unknown schedule kind ", static_cast<int>(spec.kind));
}

std::unique_ptr<LrSchedule> make_schedule(const std::string& spec, Optimizer& optimizer, int64_t steps_per_epoch,
                                          int64_t epochs, int64_t warmup_steps, double warmup_start_factor) {
  return make_schedule(parse_schedule_spec(spec), optimizer, steps_per_epoch, epochs,
                       Warmup{.steps = warmup_steps, .start_factor = warmup_start_factor});
}

}  // namespace graft::nn
