#pragma once
// Everything in nn/optim/: optimizers and gradient clipping, parameter groups, learning-rate
// schedules.
#include "nn/optim/lr_schedule.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/param_groups.h"
#include "nn/optim/schedules.h"
