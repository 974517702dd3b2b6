#include "socketshark/util/json.hpp"

#include <cstdint>
#include <string>

namespace socketshark {

Json parse_untrusted_json(std::string_view text) {
  bool too_deep = false;
  auto limit_depth = [&too_deep](int depth, Json::parse_event_t, Json&) {
    if (static_cast<std::size_t>(depth) > max_json_depth) too_deep = true;
    return !too_deep;
  };
  Json parsed = Json::parse(text.begin(), text.end(), limit_depth, /*allow_exceptions=*/false);
  if (too_deep) return Json(Json::value_t::discarded);
  return parsed;
}

bool truthy(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return value.get<bool>();
    case Json::value_t::number_integer: return value.get<std::int64_t>() != 0;
    case Json::value_t::number_unsigned: return value.get<std::uint64_t>() != 0;
    case Json::value_t::number_float: return value.get<double>() != 0.0;
    case Json::value_t::string: return !value.get_ref<const std::string&>().empty();
    default: return !value.empty();
  }
}

}  // namespace socketshark
