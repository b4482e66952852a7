// Logging: spdlog to stderr. Every number in a log line carries its unit (bytes, ms, tok/s).
#pragma once

#include <spdlog/spdlog.h>

namespace vigil {

// Sets up the stderr logger once; `verbosity` 0 = warnings, 1 = info, 2 = debug.
void init_logging(int verbosity);

}  // namespace vigil
