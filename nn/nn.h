#pragma once
// Everything in nn/: Module, Parameter, the layers, the model summary, freezing, optimizers and
// learning-rate schedules.
#include "nn/batch_norm2d.h"
#include "nn/conv2d.h"
#include "nn/default_init.h"
#include "nn/dropout.h"
#include "nn/flatten.h"
#include "nn/freeze.h"
#include "nn/identity.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/optim/optim.h"
#include "nn/parameter.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sequential.h"
#include "nn/summary.h"
