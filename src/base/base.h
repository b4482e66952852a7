// vigil/base: the pieces every module uses — errors with context, files, units, logging.
#pragma once

#include "base/error.h"
#include "base/file.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "base/units.h"
