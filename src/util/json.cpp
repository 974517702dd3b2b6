#include "socketshark/util/json.hpp"

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

}  // namespace socketshark
