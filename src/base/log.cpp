#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace vigil {

void init_logging(int verbosity) {
  auto logger = spdlog::get("vigil");
  if (!logger) logger = spdlog::stderr_color_mt("vigil");
  logger->set_pattern("[%H:%M:%S.%e] %^%l%$ %v");
  logger->set_level(verbosity >= 2 ? spdlog::level::debug
                    : verbosity == 1 ? spdlog::level::info
                                     : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

}  // namespace vigil
