// Units: byte sizes as users write them ("1G", "768M", "4096") and as we print them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

// Parses "123", "64K", "768M", "1G", "1.5G", "2GiB" (binary multiples, case-insensitive).
// Throws UsageError naming `what` and the text when it is not a size.
uint64_t parse_size(std::string_view text, std::string_view what = "size");

// "1.50 GiB", "12.0 MiB", "512 B".
std::string format_bytes(uint64_t bytes);

// Wall-clock time in seconds since the Unix epoch (event stamps, latency, store rows).
double unix_now();

// `unix_time` (seconds since the epoch, fractions dropped) as local time in strftime's `format`,
// e.g. "%H:%M:%S"; at most 63 characters.
std::string format_local_time(double unix_time, const char* format);

}  // namespace vigil
