// Not a fuzz target: a line-oriented driver for python_diff.py, which feeds
// it the strings the fuzzers found (and generated ones) and compares the
// answers with Python 3.11 itself, whose semantics SPEC §3 requires:
//
//   stdin:  one JSON array per line: ["ts", "<text>"] or ["float", <value>]
//   stdout: one JSON value per line: the normalized timestamp or null;
//           python_float's result as a string ("%.17g", "nan", "inf", "-inf") or null.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include "socketshark/routing/message_options.hpp"
#include "socketshark/util/timestamps.hpp"
#include "socketshark/util/json.hpp"

using socketshark::Json;

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    Json request = Json::parse(line, nullptr, false);
    Json answer;  // null
    if (request.is_array() && request.size() == 2 && request[0] == "ts" && request[1].is_string()) {
      if (auto normalized = socketshark::normalize_published_at(request[1].get<std::string>())) answer = *normalized;
    } else if (request.is_array() && request.size() == 2 && request[0] == "float") {
      if (auto value = socketshark::routing::python_float(request[1])) {
        if (std::isnan(*value)) {
          answer = "nan";
        } else if (std::isinf(*value)) {
          answer = *value > 0 ? "inf" : "-inf";
        } else {
          char buffer[64];
          std::snprintf(buffer, sizeof buffer, "%.17g", *value);
          answer = buffer;
        }
      }
    } else {
      answer = "bad request";
    }
    std::cout << answer.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
  }
  return 0;
}
